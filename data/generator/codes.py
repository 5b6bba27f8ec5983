"""Identifier arithmetic: GB 32100 credit codes (统一社会信用代码), GB 11714 org codes."""

from __future__ import annotations

#: The 31 characters of GB 32100-2015 (no I, O, S, V, Z), in value order.
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}
#: Wi = 3^(i-1) mod 31 for positions 1..17.
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
#: GB 11714 weights over the eight body characters of an organisation code.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def compute_check_char(first17: str) -> str:
    """Return the GB 32100-2015 check character (position 18) for the first 17 characters.

    Parameters
    ----------
    first17
        The registration-department, category, region and body characters of a credit code.

    Returns
    -------
    str
        One character of :data:`USCC_CHARSET`.

    Examples
    --------
    >>> compute_check_char("91110108551385082")
    'Q'
    """
    if len(first17) != 17:
        raise ValueError(f"first17 must have 17 characters, got {len(first17)}")
    try:
        total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(f"first17 contains {exc.args[0]!r}, not in the GB 32100 charset") from exc
    return USCC_CHARSET[(31 - total % 31) % 31]


def org_code_check_char(body8: str) -> str:
    """Return the GB 11714 check character of an 8-character organisation-code body.

    Letters count A=10 … Z=35; the result is a digit or ``X``.
    """
    total = sum(int(c, 36) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def make_uscc(category: str, region: str, serial: int) -> str:
    """Build a checksum-valid credit code whose body is a bijective scramble of ``serial``.

    The scramble (multiplication by a unit modulo 31^8) makes distinct serials give distinct
    bodies, so uniqueness needs no lookup table even at province scale.

    Parameters
    ----------
    category
        Two characters: ``91`` 企业, ``92`` 个体工商户, ``93`` 合作社,
        ``11``/``12``/``52``/``N2`` ….
    region
        Six-digit GB/T 2260 code of the registering authority.
    serial
        Any non-negative integer below 31^8, unique within the dataset.
    """
    modulus = 31**8
    # 2654435761 (Knuth's golden-ratio multiplier) is not divisible by 31: a unit modulo 31^8.
    n = (serial * 2_654_435_761 + 97_654_321_017) % modulus
    body = []
    for _ in range(8):
        n, r = divmod(n, 31)
        body.append(USCC_CHARSET[r])
    body8 = "".join(reversed(body))
    first17 = f"{category}{region}{body8}{org_code_check_char(body8)}"
    return first17 + compute_check_char(first17)
