"""scrub(): user data and secrets in free text are replaced; our own names (canister ids, paths) are kept."""

from __future__ import annotations

import pytest

from perfguard.domain.scrub import scrub

USER_PRINCIPAL = "-".join(["ab2de"] * 10) + "-aae"  # 10 groups of 5 and one of 3: 63 characters


def test_user_principal_fixture_has_the_textual_shape() -> None:
    assert len(USER_PRINCIPAL) == 63


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /users/ann@example.com/orders", "GET /users/[email]/orders"),
        ("first.last+tag@mail.example.co.uk", "[email]"),
        ("contact a_b%c@x-y.io now", "contact [email] now"),
    ],
)
def test_emails_are_replaced(text: str, expected: str) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("from 10.1.2.3", "from [ip]"),
        ("255.255.255.255:443", "[ip]:443"),
        ("/peers/192.168.0.1/ping", "/peers/[ip]/ping"),
        ("host 2001:db8::1 x", "host [ip] x"),
        ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "[ip]"),
        ("::1", "[ip]"),
        ("fe80::1ff:fe23:4567:890a", "[ip]"),
    ],
)
def test_ip_addresses_are_replaced(text: str, expected: str) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "at 12:30:45",
        "slot 09:00-17:30",
        "mac aa:bb:cc:dd:ee:ff",
        "ratio 1:2:3",
        "v1.2.3",
        "256.1.1.1 is not an address",
    ],
)
def test_times_and_near_misses_are_not_addresses(text: str) -> None:
    assert scrub(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abcdefgh12345", "Authorization: Bearer [token]"),
        ("authorization: bearer x.y-z~abc/123=", "authorization: bearer [token]"),
        ("Basic dXNlcjpwYXNzd29yZA==", "Basic [token]"),
        ("token s3cr3tvalue", "token [token]"),
    ],
)
def test_bearer_and_basic_credentials_are_replaced(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_jwt_is_replaced() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    assert scrub(f"/session?x=1 {jwt} end") == "/session?x=1 [token] end"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/cb?code=abc&state=1", "/cb?code=[redacted]&state=1"),
        ("/x?api_key=XYZ&page=2", "/x?api_key=[redacted]&page=2"),
        ("/x?apikey=XYZ", "/x?apikey=[redacted]"),
        ("/x?password=hunter2#frag", "/x?password=[redacted]#frag"),
        ("/x?access_token=a.b.c", "/x?access_token=[redacted]"),
        ("/x?refresh_token=r&id_token=i", "/x?refresh_token=[redacted]&id_token=[redacted]"),
        ("/x?Secret=s&sig=t&session=u", "/x?Secret=[redacted]&sig=[redacted]&session=[redacted]"),
        (
            "/x?pwd=1 passwd=2 auth=3 signature=4 key=5",
            "/x?pwd=[redacted] passwd=[redacted] auth=[redacted] signature=[redacted] key=[redacted]",
        ),
    ],
)
def test_secret_query_parameters_are_redacted(text: str, expected: str) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize("text", ["/x?page=2&sort=asc", "monkey=banana", "/listings?category=art"])
def test_ordinary_parameters_are_kept(text: str) -> None:
    assert scrub(text) == text


@pytest.mark.parametrize(
    "text",
    ["deadbeef" * 4, "0x" + "ab" * 16, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
)
def test_long_hex_is_a_secret(text: str) -> None:
    assert scrub(f"/blob/{text}/meta") == "/blob/[secret]/meta"


def test_short_hex_is_kept() -> None:
    assert scrub("/orders/deadbeef") == "/orders/deadbeef"


@pytest.mark.parametrize("text", ["AbCdEf0123456789AbCdEf0123456789", "sk_live_4eC39HqLyjWDarjtT1zdp7dcXYZ/+Ab=="])
def test_long_mixed_base64_is_a_secret(text: str) -> None:
    assert scrub(f"key {text}") == "key [secret]"


@pytest.mark.parametrize(
    "text",
    [
        "get_listing_details_for_marketplace_v2_extended",
        "/api/v1/marketplace/listings/search_by_category_and_price",
        "ALL_UPPER_CASE_CONSTANT_NAME_LONGER_THAN_32",
        "averyveryverylonglowercasewordwithoutanydigits",
    ],
)
def test_long_words_without_mixed_case_and_digits_are_kept(text: str) -> None:
    assert scrub(text) == text


def test_user_principal_is_replaced() -> None:
    assert scrub(f"/users/{USER_PRINCIPAL}/orders") == "/users/[principal]/orders"


@pytest.mark.parametrize(
    "canister_id",
    ["ryjl3-tyaaa-aaaaa-aaaba-cai", "rrkah-fqaaa-aaaaa-aaaaq-cai", "qoctq-giaaa-aaaaa-aaaea-cai"],
)
def test_canister_ids_are_kept(canister_id: str) -> None:
    text = f"canister {canister_id} icrc1_transfer"
    assert scrub(text) == text


def test_anonymous_principal_is_kept() -> None:
    assert scrub("caller 2vxsx-fae") == "caller 2vxsx-fae"


def test_everything_in_one_line() -> None:
    text = "GET /users/ann@example.com/orders?token=abc123&page=2 from 10.1.2.3"
    assert scrub(text) == "GET /users/[email]/orders?token=[redacted]&page=2 from [ip]"


def test_scrub_is_idempotent() -> None:
    text = f"user {USER_PRINCIPAL} ann@example.com 10.0.0.1 Bearer abcdefgh123 /x?key=1 {'ab' * 20}"
    once = scrub(text)
    assert "ann@example.com" not in once and "10.0.0.1" not in once and USER_PRINCIPAL not in once
    assert scrub(once) == once


def test_plain_text_is_unchanged() -> None:
    text = "icp_swap::execute_swap step=confirm route=/swap/ICP-ckBTC"
    assert scrub(text) == text


def test_a_long_camel_case_name_with_a_version_digit_is_not_a_secret() -> None:
    assert scrub("GET getListingDetailsForMarketplaceV2") == "GET getListingDetailsForMarketplaceV2"
