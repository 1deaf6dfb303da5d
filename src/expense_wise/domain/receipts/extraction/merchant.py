"""The merchant: the company name printed at the top, above the address and registration
numbers."""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from typing import Final

from expense_wise.domain.receipts.extraction.text import (
    DEFAULT_OCR_CONFIDENCE,
    Line,
    fix_misread_words,
)

_MERCHANT_SEARCH_LINES: Final = 12
_MIN_MERCHANT_SCORE: Final = -0.5
# Legal forms that end a registered company name; anything printed after them on the same
# line (a branch, a registration number) is not part of the name.
_LEGAL_FORM_END: Final = re.compile(
    r"\bSDN\.?\s*BHD\b\.?|\bBHD\b\.?|\bS/B\b|\bSB\b|\bLTD\b\.?|\bLIMITED\b|\bINC\b\.?"
    r"|\bLLC\b|\bPLC\b|\bGMBH\b|\bPTE\b\.?"
)
_COMPANY_END: Final = re.compile(r"\bCO\b\.?(?=\s|$)")
_LEGAL_SUFFIX: Final = re.compile(
    rf"{_LEGAL_FORM_END.pattern}|\bSDN\b|{_COMPANY_END.pattern}|\bCORP"
)
_BUSINESS_WORDS: Final = (
    "ENTERPRISE",
    "ENTERPRISES",
    "TRADING",
    "RESTAURANT",
    "RESTAURANTS",
    "RESTORAN",
    "HARDWARE",
    "BAKERY",
    "BAKERIES",
    "MARKET",
    "SUPERMARKET",
    "MINIMARKET",
    "PERNIAGAAN",
    "SYARIKAT",
    "STATIONERY",
    "COMPANY",
    "PHARMACY",
    "FARMASI",
    "HOLDINGS",
    "INTERNATIONAL",
    "KITCHEN",
    "GROCER",
    "BOUTIQUE",
    "PASARAYA",
    "ELECTRICAL",
    "BOOKSTORE",
    "BOOKSTORES",
    "TRADERS",
    "CONFECTIONERY",
    "MARKETING",
    "INDUSTRIES",
    "SERVICES",
    "CORPORATION",
)
_BUSINESS_WORD: Final = re.compile(
    r"\b(" + "|".join(_BUSINESS_WORDS) + r")\b|\bSTORES?\b|\bMART\b|\bCAFE\b|KEDAI|\bBOOKS?\b"
    r"|\bFOOD|\bSHOP\b|\bHOTEL\b|\bMOTOR\b|\bAUTO\b|\bGROUP\b|\bOUTLET\b"
)
# "SON BHD", "SDN BH0", "5DN BHO": the Malaysian private-company suffix as OCR often reads it.
_SDN_BHD: Final = re.compile(r"\b[S5][DO0]N[.,]?\s*B[HN][DO0]\b")
_ADDRESS: Final = re.compile(
    r"\bJALAN\b|\bJLN\b|\bLOT\b|\bNO\s*[.:,]|\bTAMAN\b|\bTMN\b|\bLORONG\b|\bROAD\b|\bSTREET\b"
    r"|\bFLOOR\b|\bBLOCK\b|\bBLK\b|\bLEVEL\b|\bUNIT\b|\bPLAZA\b|\bKAWASAN\b|\bBANDAR\b"
    r"|\bPERSIARAN\b|\bSELANGOR\b|\bJOHOR\b|\bKUALA\b|(?<!\d)\d{5}(?!\d)"
)
_NOT_MERCHANT: Final = re.compile(
    r"INVOICE|RECEIPT|\bBILL\b|WELCOME|THANK|\bTEL\b|\bFAX\b|PHONE|\bGST\b|\bREG\b|\bSST\b"
    r"|\bTAX\b|CASHIER|\bTABLE\b|\bDATE\b|\bTIME\b|E-?MAIL|WWW|HTTP|\.COM|FORMERLY|MEMBER"
    r"|\bORDER\b|\bCHECK\b|\bCOPY\b|LICENSEE|TOTAL|\bQTY\b|QUANTITY|\bCASH\b|CHANGE"
    r"|\bAMOUNT\b|\bITEMS?\b"
)
# Words that begin the second line of a wrapped company name.
_CONTINUATION_WORD: Final = re.compile(
    r"SDN\.?|BHD\.?|S/B|CO\.?|COMPANY|ENTERPRISES?|TRADING|LTD\.?|LIMITED|INC\.?|&|AND"
    r"|\(M\)|\(MALAYSIA\)|CORP\w*|\(.*"
)
# "(123456-X)" company registration numbers printed next to the name.
_REGISTRATION: Final = re.compile(
    r"[(\[{]?\s*(CO\.?\s*)?(REG\w*\.?\s*(NO)?\.?\s*:?\s*)?\d[\d\s]{3,}-?\s?[A-Z]?\s*[)\]}]?"
)
# A registration number read with letters for digits: "(S19S37-X)", "BOZTZO-U".
_TRAILING_REGISTRATION: Final = re.compile(r"[(\[{]?\s*[\w/&]{4,}\s?-\s?[A-Z]\s*[)\]}]?\s*$")


def find_merchant(lines: list[Line]) -> tuple[str | None, float]:
    best: Line | None = None
    best_score = _MIN_MERCHANT_SCORE
    address_seen = False
    for line in lines[:_MERCHANT_SEARCH_LINES]:
        score = _merchant_score(line)
        if address_seen:
            score -= 2.0  # the name is printed above the address
        if score > best_score:
            best, best_score = line, score
        address_seen = address_seen or bool(_ADDRESS.search(line.upper))
    if best is None:
        return None, 0.0
    name = _clean_merchant(best.upper)
    # Long names wrap: "POPULAR BOOK" / "CO. (M) SDN BHD", "AIK HUAT HARDWARE" / "ENTERPRISE".
    previous = lines[best.index - 1] if best.index > 0 else None
    following = lines[best.index + 1] if best.index + 1 < len(lines) else None
    if previous is not None and _continues_previous_line(name) and _is_name_like(previous):
        name = f"{_clean_merchant(previous.upper)} {name}"
    elif (
        following is not None
        and not _LEGAL_FORM_END.search(name)
        and _continues_previous_line(_clean_merchant(following.upper))
        and _is_name_like(following)
    ):
        name = f"{name} {_clean_merchant(following.upper)}"
    name = _cut_after_legal_form(name)
    if not name:
        return None, 0.0
    confidence = min(1.0, best_score / 6.0) * (0.5 + 0.5 * best.ocr_confidence)
    return name, max(0.1, confidence)


def _continues_previous_line(name: str) -> bool:
    first_word = name.split(" ", 1)[0] if name else ""
    letters = sum(ch.isalpha() for ch in name)
    return letters < 10 or bool(_CONTINUATION_WORD.fullmatch(first_word))


def _is_name_like(line: Line) -> bool:
    letters = [ch for ch in line.text if ch.isalpha()]
    if len(letters) < 3 or any(ch.isdigit() for ch in line.text):
        return False
    if _NOT_MERCHANT.search(line.upper) or _ADDRESS.search(line.upper):
        return False
    words = [word for word in line.text.split() if word[:1].isalpha()]
    capitalised = all(word[0].isupper() for word in words)
    return capitalised or sum(ch.isupper() for ch in letters) / len(letters) >= 0.7


def _merchant_score(line: Line) -> float:
    text = _merchant_words_fixed(line.upper)
    letters = [ch for ch in line.text if ch.isalpha()]
    if len(letters) < 3 or _NOT_MERCHANT.search(text):
        return 0.0
    score = 1.0
    if _LEGAL_SUFFIX.search(text):
        score += 3.0
    if _BUSINESS_WORD.search(text):
        score += 2.0
    if _ADDRESS.search(text):
        score -= 3.0
    digits = sum(ch.isdigit() for ch in _REGISTRATION.sub("", text))
    score -= min(digits, 4) * 0.25
    upper_ratio = sum(ch.isupper() for ch in letters) / len(letters)
    score += upper_ratio * 1.5 - 0.5
    if upper_ratio == 0:
        score -= 1.5  # names are printed in capitals or title case, never all lower case
    symbols = sum(1 for ch in line.text if not (ch.isalnum() or ch.isspace() or ch in "&.'()-,/"))
    score -= min(symbols, 3) * 0.5
    if len(letters) / max(1, len(line.text.replace(" ", ""))) < 0.6:
        score -= 1.0
    score += (line.ocr_confidence - DEFAULT_OCR_CONFIDENCE) * 2.0
    score -= line.index * 0.15
    return score


def _merchant_words_fixed(upper: str) -> str:
    fixed = _SDN_BHD.sub("SDN BHD", upper)
    return fix_misread_words(fixed, _BUSINESS_WORDS, min_length=6)


def _clean_merchant(upper: str) -> str:
    name = _REGISTRATION.sub(" ", _merchant_words_fixed(upper))
    name = _TRAILING_REGISTRATION.sub(" ", name)
    name = re.sub(r"\(\s*\)", " ", name)
    name = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", name))
    name = name.strip(" .,:;-*~'\"|_")
    return " ".join(name.split())


def _cut_after_legal_form(name: str) -> str:
    """Drop what follows the company's legal form ("... SDN BHD (KLCC BRANCH)" -> "... SDN BHD")."""
    ends = list(_LEGAL_FORM_END.finditer(name)) or list(_COMPANY_END.finditer(name))
    if not ends:
        return name
    return name[: ends[0].end()].strip()


def merchant_matches(found: str | None, expected: str, threshold: float = 0.8) -> bool:
    """How the benchmark and tests compare merchant names: case- and spacing-insensitive."""
    if found is None:
        return False
    a = " ".join(found.lower().split())
    b = " ".join(expected.lower().split())
    return SequenceMatcher(None, a, b).ratio() >= threshold
