"""The centre's field names (pinyin initials, as its interface spells them) and their meaning.

The legacy interface names fields by the initials of their Chinese names
(``GRZH`` 个人账号, ``ZHYE`` 账户余额). The result document a window prints
and seals should be readable without the interface manual, so the plugin
renames every field it knows and keeps any new one under its lower-cased
name rather than dropping it.
"""

from __future__ import annotations

from typing import Any

from plugins.housing_fund.wire import Answer

FIELD_NAMES: dict[str, str] = {
    "GRZH": "account_no",  # 个人账号
    "XINGMING": "name",  # 姓名
    "DWZH": "employer_account_no",  # 单位账号
    "DWMC": "employer_name",  # 单位名称
    "DWZT": "employer_status",  # 单位状态
    "ZHZT": "account_status",  # 账户状态
    "JCJS": "deposit_base",  # 缴存基数
    "JCBL": "deposit_ratio",  # 缴存比例（单位、个人各）
    "YJCE": "monthly_deposit",  # 月缴存额（单位+个人）
    "ZHYE": "balance",  # 账户余额
    "JZNY": "paid_up_to",  # 缴至年月
    "KHRQ": "opened_on",  # 开户日期
    "LXJCYS": "consecutive_months",  # 连续缴存月数
    "JCRS": "depositing_employees",  # 缴存人数
    "HJJE": "monthly_remittance",  # 月汇缴金额
    "CXNY": "month",  # 查询年月
    "NY": "month",  # 年月
    "JCLX": "deposit_kind",  # 缴存类型（汇缴、补缴）
    "FSE": "amount",  # 发生额
    "DKBS": "loan_count",  # 贷款笔数
    "HTBH": "contract_no",  # 借款合同编号
    "DKJE": "loan_amount",  # 贷款金额
    "DKQX": "term_months",  # 贷款期限（月）
    "DKLL": "interest_rate",  # 贷款年利率
    "DKYE": "outstanding",  # 贷款余额
    "FFRQ": "granted_on",  # 发放日期
    "DKZT": "loan_status",  # 贷款状态
    "FWZL": "property_location",  # 房屋坐落
    "ZMBH": "certificate_no",  # 证明编号
    "ZMYT": "purpose",  # 证明用途
    "KJRQ": "issued_on",  # 开具日期
    "TQDH": "withdrawal_no",  # 提取单号
    "TQLX": "withdrawal_kind",  # 提取类型
    "TQJE": "withdrawal_amount",  # 提取金额
    "SKKH": "bank_card",  # 收款卡号（已脱敏）
    "YJDZRQ": "expected_credit_on",  # 预计到账日期
    "SCJCNY": "first_deposit_month",  # 首次缴存年月
    "GJYH": "collecting_bank",  # 归集银行
    "SBDWBH": "social_insurance_no",  # 单位社会保险登记编号
    "ZYDH": "transfer_no",  # 转移单号（联系函编号）
    "ZCZX": "from_centre",  # 转出中心
    "ZRJE": "transferred_amount",  # 转入金额
    "ZT": "status",  # 办理状态
    "XTMC": "system",  # 系统名称
    "BBH": "version",  # 版本号
}

# Which kind of detail rows each transaction answers with.
ROWS_KEY: dict[str, str] = {"2001": "deposits", "2002": "loans", "1101": "deposits"}


def _renamed(record: dict[str, str]) -> dict[str, Any]:
    return {FIELD_NAMES.get(key, key.lower()): value for key, value in record.items()}


def document_of(txcode: str, answer: Answer) -> dict[str, Any]:
    """The result document: the main record renamed, detail rows under their own key."""
    document = _renamed(answer.record)
    if answer.rows or txcode in ROWS_KEY:
        document[ROWS_KEY.get(txcode, "rows")] = [_renamed(row) for row in answer.rows]
    return document
