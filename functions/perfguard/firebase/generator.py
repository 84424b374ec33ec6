"""Realistic Firebase export rows, deterministic from a seed: shared by the tests, the demo and the benchmark.

Users open sessions; some sessions crash (Flutter fatals, two of them lumped by Crashlytics under one issue
of the generic `FlutterError` type), some hit ANRs or iOS non-fatals; GA4 mirrors the sessions
(`session_start`, `app_exception` fatal=1, `first_open`) and carries swap journey events and the A/B user
property `firebase_exp_12`; Performance Monitoring gets app starts, screen traces, requests and a custom trace.
A `Spike` adds one new crash cluster in one version from a moment on (the velocity alert of the demo).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from perfguard.firebase.exports import CRASHLYTICS, GA4, PERFORMANCE, SESSIONS

APP = "com.example.market"
FLUTTER_ERROR = "io.flutter.plugins.firebase.crashlytics.FlutterError"
LUMPED_ISSUE = "8c2d5b7e1f0a4c3d9e6b2a1f0c9d8e7b"  # one Crashlytics issue over two different Dart crashes
DEVICES: dict[str, list[tuple[str | None, str, str]]] = {
    "ANDROID": [("samsung", "SM-A546B", "14"), ("Xiaomi", "Redmi Note 12", "13"), ("Google", "Pixel 7", "14")],
    "IOS": [(None, "iPhone15,2", "17.4.1"), (None, "iPhone14,5", "16.6")],
}
URL_PATTERNS = ("api.example.com/v1/listings/*", "api.example.com/v1/swaps/*", "icp0.io/api/v2/canister/*/call")


@dataclass(frozen=True)
class CrashKind:
    """One kind of crash the app has: its Crashlytics issue, type and in-app frames."""

    issue_id: str
    error_type: str
    exception_type: str
    frames: tuple[tuple[str, str, int], ...]  # (file, symbol, line) of the in-app (DEVELOPER) frames
    platform: str
    message: str


CRASH_KINDS = (
    CrashKind(
        LUMPED_ISSUE,
        "FATAL",
        FLUTTER_ERROR,
        (("buy_listing.dart", "BuyListingCubit.submit", 88),),
        "ANDROID",
        "Bad state: listing already sold",
    ),
    CrashKind(
        LUMPED_ISSUE,
        "FATAL",
        FLUTTER_ERROR,
        (("swap_page.dart", "SwapPage._onConfirm", 141), ("swap_repository.dart", "SwapRepository.confirm", 57)),
        "ANDROID",
        "Null check operator used",
    ),
    CrashKind("f1e2d3c4b5a69788a9b0c1d2e3f4a5b6", "ANR", "", (), "ANDROID", "Input dispatching timed out"),
    CrashKind(
        "aa11bb22cc33dd44ee55ff6677889900",
        "NON_FATAL",
        "NSError",
        (("swap_repository.dart", "SwapRepository.confirm", 57),),
        "IOS",
        "NSURLErrorDomain - -1001",
    ),
    CrashKind(
        "5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b",
        "FATAL",
        "EXC_BAD_ACCESS",
        (("wallet_bridge.swift", "WalletBridge.sign", 210),),
        "IOS",
        "KERN_INVALID_ADDRESS",
    ),
)
SPIKE_KIND = CrashKind(
    "0c0ffee0c0ffee0c0ffee0c0ffee0c0f",
    "FATAL",
    FLUTTER_ERROR,
    (("checkout_page.dart", "CheckoutPage.build", 73), ("price_format.dart", "formatPrice", 12)),
    "ANDROID",
    "RangeError (index): Invalid value: Not in inclusive range 0..2: 3",
)


@dataclass(frozen=True)
class Spike:
    """From `start` on, sessions of `version` crash with SPIKE_KIND at `rate`."""

    start: dt.datetime
    version: str = "2.4.0"
    rate: float = 0.05


@dataclass(frozen=True)
class Profile:
    """How much traffic and how many failures to generate."""

    users: int = 200
    sessions_per_hour: int = 120
    fatal_rate: float = 0.004  # per session, spread over the fatal kinds
    anr_rate: float = 0.002
    nonfatal_rate: float = 0.01
    swap_rate: float = 0.15  # sessions starting a swap journey
    swap_failure_rate: float = 0.05
    versions: tuple[str, ...] = ("2.3.1", "2.4.0")
    spike: Spike | None = None


@dataclass
class Exports:
    """Generated rows per export table: (kind, platform) for app tables, (GA4, 'YYYYMMDD') for GA4 shards."""

    rows: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def count(self) -> int:
        """Rows generated, all tables."""
        return sum(len(rows) for rows in self.rows.values())


@dataclass(frozen=True)
class _User:
    instance_id: str
    pseudo_id: str
    installation_uuid: str
    platform: str
    device: tuple[str | None, str, str]
    version: str
    variant: str


class Generator:
    """Export rows for consecutive time ranges from one seed (the same seed gives the same rows)."""

    def __init__(self, seed: int = 7, profile: Profile | None = None) -> None:
        self.profile = profile or Profile()
        self._rng = random.Random(seed)
        self._users = [self._user(i) for i in range(self.profile.users)]
        self._opened: set[str] = set()

    def generate(self, start: dt.datetime, end: dt.datetime) -> Exports:
        """The rows of every export for the sessions that start in [start, end)."""
        out = Exports()
        hours = (end - start).total_seconds() / 3600
        for _ in range(round(self.profile.sessions_per_hour * hours)):
            moment = start + dt.timedelta(seconds=self._rng.uniform(0, (end - start).total_seconds()))
            self._session(out, self._rng.choice(self._users), moment)
        return out

    def _user(self, index: int) -> _User:
        rng, p = self._rng, self.profile
        platform = "ANDROID" if rng.random() < 0.7 else "IOS"
        device = rng.choice(DEVICES[platform])
        version = p.versions[index % len(p.versions)]
        return _User(_hex(rng, 22), _hex(rng, 32), _hex(rng, 32), platform, device, version, str(index % 2))

    def _session(self, out: Exports, user: _User, moment: dt.datetime) -> None:
        rng = self._rng
        session_id = _hex(rng, 32)
        ga_session = int(moment.timestamp())
        out.rows[(SESSIONS, user.platform)].append(_session_row(user, session_id, moment))
        ga4 = _Ga4(out, user, ga_session)
        if user.pseudo_id not in self._opened:
            self._opened.add(user.pseudo_id)
            ga4.event("first_open", moment, {"firebase_conversion": 1, "previous_first_open_count": 0})
        ga4.event("session_start", moment + dt.timedelta(seconds=1), {"ga_session_number": 1})
        ga4.event("user_engagement", moment + dt.timedelta(seconds=30), {"engagement_time_msec": 30_000})
        self._performance(out, user, moment)
        if rng.random() < self.profile.swap_rate:
            self._swap(ga4, moment)
        self._crashes(out, ga4, user, session_id, moment)

    def _crashes(self, out: Exports, ga4: _Ga4, user: _User, session_id: str, moment: dt.datetime) -> None:
        rng, p = self._rng, self.profile
        delay = rng.uniform(5, 600)
        spike = p.spike
        kinds = [k for k in CRASH_KINDS if k.platform == user.platform]
        kind: CrashKind | None = None
        if spike and moment >= spike.start and user.version == spike.version and user.platform == "ANDROID":
            kind = SPIKE_KIND if rng.random() < spike.rate else None
        if kind is None:
            roll = rng.random()
            wanted = (
                "FATAL"
                if roll < p.fatal_rate
                else "ANR"
                if roll < p.fatal_rate + p.anr_rate
                else ("NON_FATAL" if roll < p.fatal_rate + p.anr_rate + p.nonfatal_rate else "")
            )
            matching = [k for k in kinds if k.error_type == wanted]
            kind = rng.choice(matching) if matching else None
        if kind is None:
            return
        # The spiking crash is on the checkout screen, reached within the first minutes of a session.
        at = moment + dt.timedelta(seconds=delay if kind is not SPIKE_KIND else delay / 6)
        out.rows[(CRASHLYTICS, user.platform)].append(_crash_row(rng, kind, user, session_id, at))
        if kind.error_type == "FATAL":
            ga4.event("app_exception", at, {"fatal": 1, "timestamp": int(at.timestamp() * 1000)})

    def _swap(self, ga4: _Ga4, moment: dt.datetime) -> None:
        rng = self._rng
        journey_id = f"swap-{_hex(rng, 12)}"
        started = moment + dt.timedelta(seconds=rng.uniform(10, 120))
        minutes = rng.lognormvariate(2.3, 0.6)  # median ~10 min, a tail past the 30-min SLA
        submitted = started + dt.timedelta(seconds=rng.uniform(5, 60))
        done = started + dt.timedelta(minutes=minutes)
        failed = rng.random() < self.profile.swap_failure_rate
        for name, step, at in (
            ("swap_started", "started", started),
            ("swap_submitted", "submitted", submitted),
            ("swap_failed" if failed else "swap_completed", "failed" if failed else "completed", done),
        ):
            ga4.event(name, at, {"journey": "swap", "journey_id": journey_id, "step": step})

    def _performance(self, out: Exports, user: _User, moment: dt.datetime) -> None:
        rng = self._rng
        rows = out.rows[(PERFORMANCE, user.platform)]
        screen = "_st_MainActivity" if user.platform == "ANDROID" else "_st_FlutterViewController"
        rows.append(_perf_row(user, moment, "DURATION_TRACE", "_app_start", duration=rng.lognormvariate(14.2, 0.4)))
        rows.append(
            _perf_row(
                user,
                moment,
                "SCREEN_TRACE",
                screen,
                duration=rng.uniform(5e6, 3e8),
                screen=(round(rng.uniform(0, 0.2), 4), round(rng.uniform(0, 0.01), 4)),
            )
        )
        for _ in range(2):
            latency = int(rng.lognormvariate(13.0, 0.6))
            code = 200 if rng.random() > 0.02 else rng.choice((500, 503, 404))
            rows.append(
                _perf_row(
                    user,
                    moment + dt.timedelta(seconds=rng.uniform(1, 60)),
                    "NETWORK_REQUEST",
                    rng.choice(URL_PATTERNS),
                    network=(code, latency),
                )
            )


class _Ga4:
    """GA4 events of one session, into the day shard of their UTC date."""

    def __init__(self, out: Exports, user: _User, ga_session: int) -> None:
        self._out, self._user, self._session = out, user, ga_session

    def event(self, name: str, at: dt.datetime, params: dict[str, Any]) -> None:
        user = self._user
        row = {
            "event_date": f"{at:%Y%m%d}",
            "event_timestamp": int(at.timestamp() * 1_000_000),
            "event_name": name,
            "event_params": [_param(k, v) for k, v in {**params, "ga_session_id": self._session}.items()],
            "user_pseudo_id": user.pseudo_id,
            "user_id": None,
            "user_properties": [_user_property("firebase_exp_12", user.variant, at)],
            "user_first_touch_timestamp": None,
            "device": {
                "category": "mobile",
                "mobile_model_name": user.device[1],
                "operating_system": "Android" if user.platform == "ANDROID" else "iOS",
                "operating_system_version": user.device[2],
            },
            "app_info": {"id": APP, "version": user.version},
            "platform": user.platform,
        }
        self._out.rows[(GA4, f"{at:%Y%m%d}")].append(row)


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(digits * 4):0{digits}x}"


def _param(key: str, value: Any) -> dict[str, Any]:
    typed = {"string_value": None, "int_value": None, "float_value": None, "double_value": None}
    typed["int_value" if isinstance(value, int) else "string_value"] = value
    return {"key": key, "value": typed}


def _user_property(key: str, value: str, at: dt.datetime) -> dict[str, Any]:
    typed = _param(key, value)["value"] | {"set_timestamp_micros": int(at.timestamp() * 1_000_000)}
    return {"key": key, "value": typed}


def _session_row(user: _User, session_id: str, moment: dt.datetime) -> dict[str, Any]:
    manufacturer, model, os_version = user.device
    return {
        "instance_id": user.instance_id,
        "session_id": session_id,
        "first_session_id": session_id,
        "session_index": 0,
        "event_type": "SESSION_START",
        "event_timestamp": moment,
        "received_timestamp": moment + dt.timedelta(seconds=7),
        "performance_data_collection_enabled": True,
        "crashlytics_data_collection_enabled": True,
        "application": {"build_version": "142", "display_version": user.version},
        "device": {"model": model, "manufacturer": manufacturer},
        "operating_system": {
            "display_version": os_version,
            "name": "Android" if user.platform == "ANDROID" else "iOS",
            "type": None if user.platform == "ANDROID" else "IOS",
            "device_type": "MOBILE",
        },
    }


def _frame(file: str, symbol: str, line: int, owner: str) -> dict[str, Any]:
    library = "market" if owner == "DEVELOPER" else file.split(".")[0]
    return {
        "line": line,
        "file": file,
        "symbol": symbol,
        "offset": None,
        "address": None,
        "library": library,
        "owner": owner,
        "blamed": owner == "DEVELOPER",
    }


def _crash_row(rng: random.Random, kind: CrashKind, user: _User, session_id: str, at: dt.datetime) -> dict[str, Any]:
    manufacturer, model, os_version = user.device
    frames = [_frame(f, s, line, "DEVELOPER") for f, s, line in kind.frames]
    frames.append(_frame("bloc.dart", "Bloc.add", 412, "VENDOR"))
    blame = (
        frames[0]
        if kind.frames
        else _frame("MessageQueue.java", "android.os.MessageQueue.nativePollOnce", -2, "PLATFORM")
    )
    row: dict[str, Any] = {
        "platform": user.platform,
        "bundle_identifier": APP,
        "event_id": _hex(rng, 32),
        "issue_id": kind.issue_id,
        "variant_id": None,
        "issue_title": f"{blame['file']} - {blame['symbol']}",
        "issue_subtitle": kind.message,
        "error_type": kind.error_type,
        "is_fatal": kind.error_type == "FATAL",
        "event_timestamp": at,
        "received_timestamp": at + dt.timedelta(seconds=rng.uniform(1, 120)),
        "installation_uuid": user.installation_uuid,
        "firebase_session_id": session_id,
        "crashlytics_sdk_version": "19.4.0",
        "process_state": "FOREGROUND" if rng.random() < 0.9 else "BACKGROUND",
        "application": {"build_version": "142", "display_version": user.version},
        "device": {"manufacturer": manufacturer, "model": model, "architecture": "ARM64"},
        "memory": {"used": rng.randrange(1, 4) * 2**30, "free": rng.randrange(100, 2000) * 2**20},
        "operating_system": {
            "display_version": os_version,
            "name": "Android" if user.platform == "ANDROID" else "iOS",
            "modification_state": "UNMODIFIED",
            "type": None,
            "device_type": "MOBILE",
        },
        "custom_keys": [{"key": "flutter_error_exception", "value": kind.message}]
        if kind.exception_type == FLUTTER_ERROR
        else [],
        "blame_frame": blame,
        "exceptions": [],
        "errors": [],
        "threads": [],
    }
    if kind.error_type == "ANR":
        row["threads"] = [{"thread_name": "main", "crashed": True, "blamed": True, "title": "main", "frames": [blame]}]
    elif user.platform == "IOS" and kind.error_type == "NON_FATAL":
        row["errors"] = [
            {
                "code": -1001,
                "title": kind.frames[0][1],
                "subtitle": "NSURLErrorDomain",
                "queue_name": "com.apple.main-thread",
                "blamed": True,
                "frames": frames,
            }
        ]
    else:
        row["exceptions"] = [
            {
                "type": kind.exception_type,
                "exception_message": kind.message,
                "nested": False,
                "title": kind.exception_type.rsplit(".", 1)[-1],
                "subtitle": kind.message,
                "blamed": True,
                "frames": frames,
            }
        ]
    return row


def _perf_row(
    user: _User,
    at: dt.datetime,
    event_type: str,
    name: str,
    duration: float = 0.0,
    screen: tuple[float, float] | None = None,
    network: tuple[int, int] | None = None,
) -> dict[str, Any]:
    trace = (
        None
        if network
        else {
            "duration_us": int(duration),
            "screen_info": {"slow_frame_ratio": screen[0], "frozen_frame_ratio": screen[1]} if screen else None,
            "metric_info": None,
        }
    )
    net = (
        {
            "response_code": network[0],
            "response_mime_type": "application/json",
            "request_http_method": "POST",
            "request_payload_bytes": 512,
            "response_payload_bytes": 2048,
            "request_completed_time_us": 35_000,
            "response_initiated_time_us": network[1] - 60_000,
            "response_completed_time_us": network[1],
        }
        if network
        else None
    )
    return {
        "event_timestamp": at,
        "app_display_version": user.version,
        "app_build_version": "142",
        "os_version": user.device[2],
        "device_name": user.device[1],
        "country": "KE",
        "carrier": "Safaricom",
        "radio_type": "WIFI",
        "custom_attributes": [],
        "event_type": event_type,
        "event_name": name,
        "parent_trace_name": None,
        "trace_info": trace,
        "network_info": net,
    }
