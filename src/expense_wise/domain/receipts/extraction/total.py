"""The amount paid: the line labelled TOTAL (or GRAND TOTAL, NET TOTAL, AMOUNT DUE...) near
the payment lines (CASH, CHANGE), checked against the arithmetic of the other amounts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from expense_wise.domain.receipts.extraction.text import (
    Amount,
    Line,
    amounts_in,
    fix_misread_words,
)

# Label patterns, strongest first. A line is classified by the first pattern that matches.
_NOT_TOTAL: Final = re.compile(
    r"TOTAL\s*(QTY|QUANTITY|ITEM|ITM|NO|DISC|SAVING|POINT|PTS|UNIT|PCS)"
    r"|(QTY|ITEMS?|ITM)\s*(\(S\))?\s*:?\s*TOTAL"
    r"|\b(TOTAL|AMOUNT|TOTAL\s*AMOUNT)\s*(OF\s*)?(GST|TAX|SST|VAT)\b"
    r"|\bTAX\s*SUMMARY|\bGST\s*SUMMARY|\bNO\.?\s*OF\s*ITEMS?"
)
_FINAL_TOTAL: Final = re.compile(
    r"GRAND\s*TOTAL|NETT?\s*TOTAL|NETT?\s*AMOUNT|TOTAL\s*ROUNDED|ROUNDED\s*TOTAL"
    r"|TOTAL\s*AFTER\s*(ROUND|ADJ)|AFTER\s*(ROUND|ADJ)|(AMOUNT|AMT)\s*(DUE|PAYABLE)|BALANCE\s*DUE"
    r"|TOTAL\s*(DUE|PAYABLE|TO\s*PAY)|TOTAL\s*\(?\s*INCL|INCL\w*\.?\s*(OF\s*)?(GST|TAX|SST)"
    r"|TOTAL\s*SALES?\s*\(?\s*INCL|TOTAL\s*\(?(RM|MYR)\)?|TOTAL\s*AMOUNT"
    r"|TOTAL\s*(WITH|INC\w*\.?|\+)\s*(GST|TAX|SST)|TOTAL\W*\w*\W*(ADJ|ROUND)"
)
_PRE_TAX_TOTAL: Final = re.compile(
    r"SUB\s*-?\s*TOTAL|SUB\s*TTL|EXCL|EXC\.?\s*(GST|TAX)|BEFORE\s*(GST|TAX)|TOTAL\s*SALES?"
)
_PLAIN_TOTAL: Final = re.compile(r"TOTAL|\bAMOUNT\b|\bAMT\b|\bTTL\b")
_PAYMENT: Final = re.compile(
    r"\bCASH\b|TENDER|\bPAID\b|ACCEPTED|RECEIVED|\bPAYMENT\b|\bVISA\b|MASTER|\bCARD\b|CREDIT|DEBIT|\bEFT"
)
# "GST @6% included in total": the tax, not the total.
_TAX_FIRST: Final = re.compile(r"\W*(GST|TAX|SST|VAT|SERVICE)\b")
_CHANGE: Final = re.compile(r"\bCHANGE\b|\bCHG\b|\bBALANCE\b")
_ROUNDING: Final = re.compile(r"ROUND|\bADJ")
# Amounts added on top of the subtotal ("GST 6%  1.26", "SERVICE CHARGE 10%  2.50"), unless
# the line says they are already included ("GST @6% INCLUDED IN TOTAL").
_ADDED_TAX: Final = re.compile(r"\bGST\b|\bTAX\b|\bSST\b|\bVAT\b|SERVICE|\bSVC\b")
_INCLUDED: Final = re.compile(r"INCL")
# A rounding adjustment without its "0.": at most 4 sen either way.
_BARE_SEN: Final = re.compile(r"(?<![\d.,])[.,]?(?P<sen>0[1-4])(?![\d.,])")
_TAX_OR_DISCOUNT: Final = re.compile(r"\bGST\b|\bTAX\b|\bSST\b|\bVAT\b|DISC|SERVICE|SVC|SAVING")

# Column headings ("QTY  PRICE  TOTAL (RM)  TAX"); the line below is an item, not a total.
_TABLE_HEADER: Final = re.compile(
    r"(QTY|PRICE|\bTAX\b|DESC|\bITEM|DISC|\bUNIT|AMOUNT|\bAMT\b|TOTAL).*"
    r"(QTY|PRICE|\bTAX\b|DESC|\bITEM|DISC|\bUNIT|AMOUNT|\bAMT\b|TOTAL)"
)
# Cash totals are rounded to 5 sen when a rounding adjustment is printed.
_CASH_ROUNDING_STEP: Final = Decimal("0.05")
_MAX_ROUNDING: Final = Decimal("0.05")
_TAX_SUMMARY: Final = re.compile(r"(TAX|GST|SST)\s*(SUMMARY|ANALYSIS|CODE)|SUMMARY")
# Below the second-look threshold (_DOUBTFUL_TOTAL_CONFIDENCE): read the receipt again.
_CONTRADICTED_TOTAL_CONFIDENCE: Final = 0.2

_FINAL_SCORE: Final = 5.0
_PAID_SCORE: Final = 2.5
_PLAIN_SCORE: Final = 3.5
_PRE_TAX_SCORE: Final = 1.5
# The line index of a total worked out from the cash and change rather than printed.
_PAYMENT_ARITHMETIC: Final = -1


@dataclass(frozen=True)
class _TotalCandidate:
    value: Decimal
    score: float
    line_index: int


@dataclass
class _PrintedAmounts:
    """The amounts of a receipt, sorted by what their labels say they are."""

    candidates: list[_TotalCandidate] = field(default_factory=list)
    cash: list[Decimal] = field(default_factory=list)
    change: list[Decimal] = field(default_factory=list)
    roundings: list[Decimal] = field(default_factory=list)
    unlabelled: list[Decimal] = field(default_factory=list)
    # Above the tax summary: subtotals, final totals and the taxes added to the subtotal.
    subtotals: list[Decimal] = field(default_factory=list)
    final_totals: list[Decimal] = field(default_factory=list)
    taxes: set[Decimal] = field(default_factory=set)


def find_total(lines: list[Line]) -> tuple[Decimal | None, float]:
    printed = _read_amounts(lines)
    candidates = printed.candidates
    candidates.extend(_rounded_candidates(candidates, printed.roundings))
    candidates.extend(_restored_candidates(candidates, printed))
    cash, roundings, subtotals = printed.cash, printed.roundings, printed.subtotals
    # What was handed over minus the change is what was due.
    paid = {c - ch for c in cash for ch in printed.change if c > ch}
    labelled = any(c.score >= _PLAIN_SCORE for c in candidates)
    if len(paid) == 1 and not labelled and not any(c.value in paid for c in candidates):
        # No readable total line: fall back on the payment arithmetic.
        candidates.append(
            _TotalCandidate(
                value=next(iter(paid)), score=_PAID_SCORE, line_index=_PAYMENT_ARITHMETIC
            )
        )
    if not candidates:
        return _fallback_total(printed.unlabelled, cash)
    best: _TotalCandidate | None = None
    best_score = -1.0
    for candidate in candidates:
        score = candidate.score
        if candidate.value in paid:
            # Exact arithmetic: outweighs a weaker label (SUBTOTAL against a misread TOTAL).
            score += 2.5
        elif candidate.value in cash:
            score += 1.0
        if any(roundings) and candidate.value % _CASH_ROUNDING_STEP == 0:
            score += 1.0  # a rounding line means the amount due was rounded to 5 sen
        repeats = len({c.line_index for c in candidates if c.value == candidate.value}) - 1
        score += min(repeats, 2) * 0.5
        if candidate.value == 0:
            score -= 3.0
        if _far_below_subtotal(candidate.value, subtotals):
            score -= 3.0
        # Later lines win ties: the final amount comes after subtotals and adjustments.
        score += candidate.line_index * 0.001
        if score > best_score:
            best, best_score = candidate, score
    assert best is not None
    confidence = min(1.0, max(0.1, best_score / 8.0))
    if _total_contradicted(best, printed, paid):
        confidence = min(confidence, _CONTRADICTED_TOTAL_CONFIDENCE)
    return best.value, confidence


def _read_amounts(lines: list[Line]) -> _PrintedAmounts:
    printed = _PrintedAmounts()
    in_tax_summary = False
    for position, line in enumerate(lines):
        amounts = amounts_in(line.text)
        label = _total_words_fixed(line.upper[: amounts[0].start] if amounts else line.upper)
        if _TAX_SUMMARY.search(label):
            # The tax breakdown printed under the total repeats "TOTAL" with other amounts.
            in_tax_summary = True
        is_total = "TOTAL" in label
        is_rounding = bool(_ROUNDING.search(label)) and not is_total
        if not amounts and is_rounding:
            amounts = _sen_without_point(line.text)
        value_line = line
        if not amounts and not _TABLE_HEADER.search(label):
            value_line = lines[position + 1] if position + 1 < len(lines) else line
            amounts = _amounts_on_next_line(lines, position)
        if not amounts:
            continue
        value = amounts[-1].value
        if _CHANGE.search(label) and not is_total:
            printed.change.append(value)
        elif _PAYMENT.search(label) and not is_total:
            printed.cash.append(value)
        elif is_rounding:
            printed.roundings.append(value)
        else:
            score = _total_label_score(label)
            above_summary = not in_tax_summary
            if score <= 0:
                printed.unlabelled.extend(amount.value for amount in amounts)
                if above_summary and _ADDED_TAX.search(label) and not _INCLUDED.search(label):
                    printed.taxes.add(value)
                continue
            negative = _printed_negative(value_line, amounts[-1])
            if above_summary and score == _PRE_TAX_SCORE and not negative:
                printed.subtotals.append(value)
            if above_summary and score == _FINAL_SCORE:
                printed.final_totals.append(value)
            if len(amounts) > 1:
                score -= 0.5  # a table row (quantity, price, tax...) rather than a labelled total
            if value_line is not line:
                score -= 0.5
            if in_tax_summary:
                score -= 2.0
            printed.candidates.append(
                _TotalCandidate(value=value, score=score, line_index=position)
            )
    return printed


def _restored_candidates(
    candidates: list[_TotalCandidate], printed: _PrintedAmounts
) -> list[_TotalCandidate]:
    """Subtotal + taxes (± rounding) where a printed total is its tail: "7.55" for 27.55.

    Faint print often loses the leading digits of the total; the lines above it still add up.
    """
    if not printed.subtotals:
        return []
    expected = max(printed.subtotals) + sum(printed.taxes, Decimal(0))
    adjustments = [Decimal(0)] + [r for r in printed.roundings if 0 < r < _MAX_ROUNDING]
    sums = {expected + a for a in adjustments} | {expected - a for a in adjustments}
    return [
        _TotalCandidate(value=value, score=candidate.score, line_index=candidate.line_index)
        for candidate in candidates
        for value in sums
        if value > candidate.value and _digits(value).endswith(_digits(candidate.value))
    ]


def _digits(value: Decimal) -> str:
    return str(value).replace(".", "")


def _sen_without_point(text: str) -> list[Amount]:
    """A rounding adjustment printed or read without its "0." ("-.02", "RM 02")."""
    match = _BARE_SEN.search(text)
    if match is None:
        return []
    return [Amount(value=Decimal(f"0.{match.group('sen')}"), start=match.start())]


def _printed_negative(line: Line, amount: Amount) -> bool:
    return line.text[: amount.start].rstrip().endswith("-")


def _far_below_subtotal(value: Decimal, subtotals: list[Decimal]) -> bool:
    """Discounts rarely take half of the subtotal; a lost leading digit often does."""
    if not subtotals:
        return False
    return value < max(subtotals) / 2


def _total_contradicted(
    best: _TotalCandidate, printed: _PrintedAmounts, paid: set[Decimal]
) -> bool:
    """Whether other printed amounts disagree with the chosen total, which is then worth a
    closer look: a lost or misread digit in the total usually shows in the arithmetic."""
    subtotals = printed.subtotals
    if best.score < _PLAIN_SCORE - 0.5 and best.value not in paid:
        return True  # only a subtotal was readable
    if _far_below_subtotal(best.value, subtotals):
        return True
    if best.line_index == _PAYMENT_ARITHMETIC and any(best.value > 2 * s for s in subtotals):
        return True  # a misread cash amount: taxes do not double the subtotal
    if printed.cash and not paid and best.value > max(printed.cash):
        return True  # less was paid than the total
    # Two final totals (TOTAL INCL. GST, AMOUNT PAYABLE) that differ by more than rounding.
    return any(abs(v - best.value) > _MAX_ROUNDING for v in printed.final_totals)


def _rounded_candidates(
    candidates: list[_TotalCandidate], roundings: list[Decimal]
) -> list[_TotalCandidate]:
    """Totals after a printed rounding adjustment, whose sign OCR often loses."""
    derived = []
    for candidate in candidates:
        for rounding in roundings:
            if rounding == 0 or rounding >= _MAX_ROUNDING:
                continue
            for value in (candidate.value + rounding, candidate.value - rounding):
                if value > 0 and value % _CASH_ROUNDING_STEP == 0:
                    derived.append(
                        _TotalCandidate(
                            value=value,
                            score=candidate.score - 0.5,
                            line_index=candidate.line_index,
                        )
                    )
    return derived


def _total_words_fixed(label: str) -> str:
    """Spell OCR-damaged forms of TOTAL (TOTA1, TOTAI, OTAL, T0TAL, TATAL) correctly."""
    return fix_misread_words(label, ("TOTAL",), min_length=4)


def _amounts_on_next_line(lines: list[Line], position: int) -> list[Amount]:
    """A label whose value was read as a separate line just below it."""
    if position + 1 >= len(lines):
        return []
    following = lines[position + 1]
    amounts = amounts_in(following.text)
    letters = sum(ch.isalpha() for ch in following.text)
    return amounts if amounts and letters <= 3 else []


def _total_label_score(label: str) -> float:
    if _NOT_TOTAL.search(label) or _TAX_FIRST.match(label):
        return 0.0
    if _FINAL_TOTAL.search(label):
        return _FINAL_SCORE
    if _PRE_TAX_TOTAL.search(label):
        return _PRE_TAX_SCORE
    if _PLAIN_TOTAL.search(label):
        return 0.0 if _TAX_OR_DISCOUNT.search(label) else _PLAIN_SCORE
    return 0.0


def _fallback_total(values: list[Decimal], cash: list[Decimal]) -> tuple[Decimal | None, float]:
    """No labelled total: the amount printed most often, then the largest below the cash."""
    if not values:
        return None, 0.0
    limit = max(cash) if cash else None
    usable = [v for v in values if v > 0 and (limit is None or v <= limit)] or values
    best = max(usable, key=lambda v: (usable.count(v), v))
    return best, 0.2
