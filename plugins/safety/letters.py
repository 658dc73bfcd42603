"""The annual safety responsibility letter (安全生产责任书, SAF-3; seed 000 doc 2: 与各村委和所辖
机关单位签订了安全生产责任书，建立健全了各村委和企、事业机关单位定期向镇安检办汇报工作的制度),
kept by the core's letters (docs/letters.md): the county may replace the text."""
from __future__ import annotations

from core.sdk import LetterKind

SAFETY_LETTER = LetterKind(
    key="safety.production", title="安全生产责任书", title_en="Safety responsibility letter",
    paragraphs=[
        "为坚持“安全第一、预防为主、综合治理”的方针，做好{年度}年度安全生产工作，{发文单位}（甲方）与{责任方}（乙方）签订本责任书。",
        "乙方对本辖区、本单位的安全生产负责，落实安全生产责任制，经常性开展安全隐患排查，对排查出的隐患落实整改责任、措施、资金、期限和应急预案，整改完毕经复查合格后销号。",
        "乙方建立定期向甲方汇报安全生产工作的制度；发生事故或重大事件，按本县规定的时限及时报告。",
        "乙方组织本辖区、本单位的安全生产责任人参加培训。",
        "本责任书自{签订日期}起生效，有效期至{年度}年12月31日。",
    ],
    parties=("unit", "member_unit"))
