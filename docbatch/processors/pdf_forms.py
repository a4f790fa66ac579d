"""Filled-in values of a PDF's interactive form (AcroForm, PDF 32000-1 §12.7).

A form field's value lives in the field dictionary and its widget's appearance, not in the page's
content stream, so PDFium's text of the page does not hold it: a filled-in form read as text lost
exactly what was filled in. The values are read through PDFium's form API, page by page, for the
widgets on that page.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable
from typing import Any


def open_form(document: Any, warnings: list[str]) -> bool:
    """Prepare the document's interactive form, if it has one; True when it does. Call before any page
    is loaded (PDFium attaches form fields to pages as they load). An XFA form (an XML form packet
    PDF 32000-1 §12.7.8 leaves to Adobe's XFA specification) is beyond this PDFium build: a warning
    says its values are not read, and whatever AcroForm fields it also has are read."""
    import pypdfium2.raw as pdfium_c

    kind = pdfium_c.FPDF_GetFormType(document.raw)
    if kind == pdfium_c.FORMTYPE_NONE:
        return False
    if kind in (pdfium_c.FORMTYPE_XFA_FULL, pdfium_c.FORMTYPE_XFA_FOREGROUND):
        warnings.append("the form is an XFA form: values held only in its XFA data are not read")
    library_log = logging.getLogger("pypdfium2")
    level = library_log.level
    library_log.setLevel(logging.ERROR)  # it logs advice about XFA builds; the warning above says it
    try:
        document.init_forms()
    finally:
        library_log.setLevel(level)
    return True


def form_field_lines(document: Any, page: Any) -> list[str]:
    """``label: value`` for every filled-in field whose widget is on ``page`` (text fields, combo and
    list boxes; check boxes and radio buttons that are on), in the page's annotation order. The label
    is the field's alternate name (its tooltip) when it has one, else its name."""
    import pypdfium2.raw as pdfium_c

    form = document.formenv.raw
    lines: list[str] = []
    for index in range(pdfium_c.FPDFPage_GetAnnotCount(page.raw)):
        annotation = pdfium_c.FPDFPage_GetAnnot(page.raw, index)
        if not annotation:
            continue
        try:
            if pdfium_c.FPDFAnnot_GetSubtype(annotation) == pdfium_c.FPDF_ANNOT_WIDGET:
                line = _field_line(form, annotation)
                if line:
                    lines.append(line)
        finally:
            pdfium_c.FPDFPage_CloseAnnot(annotation)
    return lines


def _field_line(form: Any, annotation: Any) -> str | None:
    import pypdfium2.raw as pdfium_c

    kind = pdfium_c.FPDFAnnot_GetFormFieldType(form, annotation)
    label = _string(pdfium_c.FPDFAnnot_GetFormFieldAlternateName, form, annotation) or _string(
        pdfium_c.FPDFAnnot_GetFormFieldName, form, annotation
    )
    if kind in (pdfium_c.FPDF_FORMFIELD_CHECKBOX, pdfium_c.FPDF_FORMFIELD_RADIOBUTTON):
        if not pdfium_c.FPDFAnnot_IsChecked(form, annotation):
            return None
        value = _string(pdfium_c.FPDFAnnot_GetFormFieldExportValue, form, annotation) or "checked"
    elif kind in (pdfium_c.FPDF_FORMFIELD_TEXTFIELD, pdfium_c.FPDF_FORMFIELD_COMBOBOX, pdfium_c.FPDF_FORMFIELD_LISTBOX):
        value = _string(pdfium_c.FPDFAnnot_GetFormFieldValue, form, annotation)
    else:
        return None  # push buttons and signatures hold no filled-in text
    value = " ".join(value.split())
    return f"{' '.join(label.split())}: {value}" if value else None


def _string(getter: Callable[..., int], form: Any, annotation: Any) -> str:
    """A UTF-16LE string from one of PDFium's two-call getters (size first, then the bytes)."""
    import pypdfium2.raw as pdfium_c

    size = getter(form, annotation, None, 0)
    if size <= 2:
        return ""
    buffer = ctypes.create_string_buffer(size)
    getter(form, annotation, ctypes.cast(buffer, ctypes.POINTER(pdfium_c.FPDF_WCHAR)), size)
    return buffer.raw[: size - 2].decode("utf-16-le", errors="replace")
