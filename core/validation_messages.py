"""marshmallow's validation messages in Chinese, for forms and import sheets (the API answers
with the schema's own messages under ``errors``; a page shows them to people)."""
from __future__ import annotations

_ZH = (("Missing data for required field", "必填"), ("Field may not be null", "必填"),
       ("Not a valid", "格式不正确"), ("Must be one of", "不是可选的值"), ("Length must be", "长度不符合要求"),
       ("Shorter than", "长度不符合要求"), ("Longer than", "长度不符合要求"), ("Must be greater", "超出范围"),
       ("Must be less", "超出范围"), ("Unknown field", "未知的字段"))


def validation_zh(message: str) -> str:
    """A marshmallow validation message in Chinese (a message already in Chinese is kept)."""
    return next((zh for en, zh in _ZH if message.startswith(en)), message)
