"""The crash fingerprint splits Crashlytics' lumped Flutter issue by in-app frames, ignores line numbers,
vendor frames, recursion and closure noise, and is stable."""

from __future__ import annotations

from perfguard.domain.crash_fingerprint import Frame, cluster_id, in_app, normalise_symbol, top_frames

FLUTTER = "io.flutter.plugins.firebase.crashlytics.FlutterError"
BUY = [Frame("lib/buy_listing.dart", "BuyListingCubit.submit", "DEVELOPER"), Frame("bloc.dart", "Bloc.add", "VENDOR")]
SWAP = [Frame("swap_page.dart", "SwapPage._onConfirm", "DEVELOPER"), Frame("bloc.dart", "Bloc.add", "VENDOR")]


def test_one_lumped_issue_splits_by_in_app_frames() -> None:
    assert cluster_id("issue1", "FATAL", FLUTTER, BUY) != cluster_id("issue1", "FATAL", FLUTTER, SWAP)


def test_same_stack_same_cluster_whatever_the_vendor_frames_and_paths() -> None:
    other_vendor = [
        Frame("app/lib/BUY_LISTING.DART", "BuyListingCubit.submit", "DEVELOPER"),
        Frame("x.dart", "y", "VENDOR"),
    ]
    assert cluster_id("issue1", "FATAL", FLUTTER, BUY) == cluster_id("issue1", "FATAL", FLUTTER, other_vendor)


def test_error_type_and_issue_are_part_of_the_key() -> None:
    assert cluster_id("issue1", "FATAL", FLUTTER, BUY) != cluster_id("issue1", "NON_FATAL", FLUTTER, BUY)
    assert cluster_id("issue1", "FATAL", FLUTTER, BUY) != cluster_id("issue2", "FATAL", FLUTTER, BUY)


def test_cluster_ids_are_stable_hex() -> None:
    assert cluster_id(None, "ANR", "", []) == cluster_id(None, "ANR", "", [])
    assert len(cluster_id(None, "ANR", "", [])) == 20


def test_symbols_lose_line_numbers_closures_and_lambdas() -> None:
    assert normalise_symbol("_CheckoutState._onTap.<anonymous closure>.<anonymous closure>") == (
        "_CheckoutState._onTap.<anonymous closure>"
    )
    assert normalise_symbol("Foo.bar:12:7") == "Foo.bar"
    assert normalise_symbol("com.x.A.lambda$onCreate$0") == "com.x.A.<lambda>"


def test_only_the_first_three_in_app_frames_count() -> None:
    deep = [Frame(f"f{i}.dart", "m", "DEVELOPER") for i in range(5)]
    deeper = deep[:3] + [Frame("other.dart", "m", "DEVELOPER")]
    assert cluster_id("i", "FATAL", "T", deep) == cluster_id("i", "FATAL", "T", deeper)


def test_recursion_collapses_and_top_frames_fall_back_to_all_frames() -> None:
    recursive = [Frame("a.dart", "f", "DEVELOPER")] * 3 + [Frame("b.dart", "g", "DEVELOPER")]
    assert [f.file for f in in_app(recursive)] == ["a.dart", "b.dart"]
    assert top_frames([Frame("MessageQueue.java", "nativePollOnce", "PLATFORM")]) == [
        "messagequeue.java nativePollOnce"
    ]
