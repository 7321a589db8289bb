"""The lead (线索) workflow: which step may follow which, who may take it, what it must record.

Modelled on 《市场监督管理行政处罚程序规定》: 核查 within 15 working days of
discovery (+15 with approval, 第十八条); 立案 approved by the 负责人 with at least
two officers with enforcement qualification (第十九条); 不予立案 on stated grounds
(第二十条); a decision within 90 days of 立案 (《行政处罚法》第六十条). The store
runs each step's check inside its write transaction, so two people cannot take
conflicting steps at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pipelines.store import CST, VERIFY_WORKING_DAYS, add_working_days

DECISION_DAYS = 90  # 《行政处罚法》第六十条: decision within 90 days of 立案
DECISION_EXTENSION_DAYS = 30  # +30 days with the 负责人's approval
OPEN_LEAD_STATES = ("registered", "verifying", "filed", "investigating", "decided")
WORKER_ROLES = frozenset({"inspector", "supervisor", "admin"})
# 立案, 不予立案, 移送, extensions, decisions, closing and 挂牌督办 are the 负责人's acts: supervisors only.
APPROVER_ROLES = frozenset({"supervisor"})
OFFICER_ROLES = ("inspector", "supervisor")

NOT_FILE_GROUNDS = [
    "违法行为轻微并及时改正，没有造成危害后果（《行政处罚法》第三十三条第一款）",
    "初次违法且危害后果轻微并及时改正（《行政处罚法》第三十三条第一款）",
    "当事人有证据足以证明没有主观过错（《行政处罚法》第三十三条第二款）",
    "违法事实不成立或证据不足（《市场监督管理行政处罚程序规定》第二十条）",
    "超过行政处罚时效（《行政处罚法》第三十六条）",
]
TRANSFER_GROUNDS = [
    "不属于本部门管辖，移送有管辖权的部门（《市场监督管理行政处罚程序规定》第十八条）",
    "涉嫌犯罪，移送司法机关（《行政处罚法》第二十七条）",
]


@dataclass(frozen=True)
class Step:
    label: str  # the button, in Chinese
    from_states: tuple[str, ...]
    to_state: str | None  # None: the state does not change
    roles: frozenset[str]
    reason: bool = False  # a reason is required
    basis: str | None = None  # "text" (free legal basis), "not_file", "transfer" (a list of grounds)
    officers: bool = False  # two officers are named
    date: bool = False  # a deadline date is given
    hint: str = ""


STEPS: dict[str, Step] = {
    "verify": Step("开始核查", ("registered",), "verifying", WORKER_ROLES),
    "request-filing": Step("申请立案", ("verifying",), None, WORKER_ROLES, reason=True, basis="text", officers=True,
                           hint="填写立案依据并指定两名具有执法资格的办案人员，由主管审批。"),
    "approve-filing": Step("批准立案", ("verifying",), "filed", APPROVER_ROLES,
                           hint="审批人不能是申请人；立案后 90 日内作出处罚决定。"),
    "reject-filing": Step("驳回立案申请", ("verifying",), None, APPROVER_ROLES, reason=True),
    "not-file": Step("不予立案", ("registered", "verifying"), "not_filed", APPROVER_ROLES, reason=True,
                     basis="not_file"),
    "transfer": Step("移送", ("registered", "verifying", "filed", "investigating"), "transferred", APPROVER_ROLES,
                     reason=True, basis="transfer"),
    "extend": Step("延长核查期限（15 个工作日）", ("registered", "verifying"), None, APPROVER_ROLES, reason=True),
    "investigate": Step("开始调查", ("filed",), "investigating", WORKER_ROLES),
    "extend-decision": Step("延长处罚决定期限（30 日）", ("filed", "investigating"), None, APPROVER_ROLES, reason=True,
                            hint="经负责人批准可延长 30 日；再延长须集体讨论决定（《市场监督管理行政处罚程序规定》）。"),
    "decide": Step("作出处罚决定", ("investigating",), "decided", APPROVER_ROLES, reason=True, basis="text",
                   hint="填写处罚决定书文号与处罚依据条款。"),
    "close": Step("结案", ("decided", "not_filed"), "closed", APPROVER_ROLES, reason=True),
    "supervise": Step("挂牌督办", OPEN_LEAD_STATES, None, APPROVER_ROLES, reason=True, date=True,
                      hint="设定限时办结日期。"),
}  # fmt: skip


def today_cst() -> dt.date:
    return dt.datetime.now(CST).date()


def available(lead: dict, role: str, username: str) -> list[tuple[str, Step]]:
    """The steps this user may take on this lead now (the server checks again on submit)."""
    return [(name, step) for name, step in STEPS.items() if check(name, lead, role, username) is None]


def check(name: str, lead: dict, role: str, username: str) -> str | None:
    """Why the step cannot be taken on `lead` now by this user (a message), or None."""
    step = STEPS[name]
    if role not in step.roles:
        return "您的角色无权执行此操作。"
    if lead["state"] not in step.from_states:
        return "线索当前状态不允许此操作。"
    pending = lead.get("filing_request")
    if name == "request-filing" and pending:
        return "已有待审批的立案申请。"
    if name in ("approve-filing", "reject-filing") and not pending:
        return "没有待审批的立案申请。"
    if name == "approve-filing" and pending and pending.get("by") == username:
        return "审批人不能是立案申请人。"
    if name == "extend" and lead.get("verify_extended"):
        return "核查期限已延长过一次。"
    if name == "extend-decision" and decision_extended(lead):
        return "处罚决定期限已延长过一次，再延长须集体讨论决定。"
    return None


def decision_extended(lead: dict) -> bool:
    """Whether the 90-day decision clock was already extended (its due date lies beyond 90 days of 立案)."""
    try:
        filed = dt.date.fromisoformat((lead.get("filed_at") or "")[:10])
        due = dt.date.fromisoformat((lead.get("decision_due_at") or "")[:10])
    except ValueError:
        return False
    return (due - filed).days > DECISION_DAYS


def updates_for(name: str, lead: dict, username: str, form: dict) -> dict:
    """The column changes a step makes (after validation)."""
    now = today_cst()
    if name == "request-filing":
        return {"filing_request": {"by": username, "officers": form["officers"], "reason": form["reason"],
                                   "legal_basis": form["basis"], "at": now.isoformat()}}  # fmt: skip
    if name == "approve-filing":
        pending = lead["filing_request"] or {}
        return {"filing_request": None, "officers": pending.get("officers") or [], "filed_at": now.isoformat(),
                "decision_due_at": (now + dt.timedelta(days=DECISION_DAYS)).isoformat()}  # fmt: skip
    if name == "reject-filing":
        return {"filing_request": None}
    if name == "extend":
        due = dt.date.fromisoformat((lead.get("due_at") or now.isoformat())[:10])
        return {"due_at": add_working_days(due, VERIFY_WORKING_DAYS).isoformat(), "verify_extended": 1}
    if name == "extend-decision":
        due = dt.date.fromisoformat(lead["decision_due_at"][:10])
        return {"decision_due_at": (due + dt.timedelta(days=DECISION_EXTENSION_DAYS)).isoformat()}
    if name == "supervise":
        return {"supervised_due_at": form["date"], "supervised_by": username}
    return {}


def validate(name: str, form, officer_names: set[str]) -> tuple[dict, str | None]:
    """Read and check a step's form fields: (values, error message or None)."""
    step = STEPS[name]
    values: dict = {"reason": str(form.get("reason") or "").strip()[:1000] or None}
    if step.reason and not values["reason"]:
        return values, "请填写理由。"
    basis = str(form.get("basis") or "").strip()[:500]
    if step.basis == "not_file" and basis not in NOT_FILE_GROUNDS:
        return values, "请选择不予立案的法定情形。"
    if step.basis == "transfer" and basis not in TRANSFER_GROUNDS:
        return values, "请选择移送依据。"
    if step.basis == "text" and not basis:
        return values, "请填写法律依据。"
    values["basis"] = basis or None
    if step.officers:
        officers = [str(v).strip() for v in form.getlist("officer") if str(v).strip()]
        if len(set(officers)) < 2:
            return values, "立案须指定两名不同的办案人员。"
        unknown = [o for o in officers if o not in officer_names]
        if unknown:
            return values, "办案人员须为在岗的执法人员或主管。"
        values["officers"] = sorted(set(officers))
    if step.date:
        raw = str(form.get("date") or "").strip()
        try:
            date = dt.date.fromisoformat(raw)
        except ValueError:
            return values, "请填写办结期限日期。"
        if date < today_cst():
            return values, "办结期限不能早于今天。"
        values["date"] = date.isoformat()
    return values, None
