"""Chinese by default, English selectable: the UI's strings are their Chinese text, looked up here for English.

Templates call `_("中文", name=value)`; a string with no English entry stays
Chinese. The language is per request (cookie `fangxin_lang`, set at /lang/en or
/lang/zh), held in a context variable by the app's middleware.
"""

from __future__ import annotations

from contextvars import ContextVar

LANG: ContextVar[str] = ContextVar("fangxin_lang", default="zh")
LANGS = ("zh", "en")
COOKIE = "fangxin_lang"

EN: dict[str, str] = {
    # chrome
    "放心消费监测": "Fangxin Watch", "概览": "Dashboard", "审核队列": "Queue", "线索": "Leads",
    "商家风险": "Merchant risk", "规则": "Rules", "审计日志": "Audit log", "退出": "Log out",
    "执法人员": "inspector", "主管": "supervisor", "规则编写": "rule author", "审计": "auditor", "管理员": "admin",
    "错误": "Error", "返回审核队列": "Back to the queue", "完成": "Done", "返回": "Back",
    # livestream and OCR hits
    "事件时间": "Event time", "监测开始后 {s} 秒": "{s} s into the watch", "事件来源": "Event source",
    "图片地址": "Image URL", "前后事件": "Events around the hit", "时间（+08:00）": "Time (+08:00)",
    "偏移": "Offset", "文字内容": "Text",
    # login
    "登录": "Log in", "执法人员登录": "Inspector login", "用户名": "User name", "密码": "Password",
    "表单已过期，请重新登录。": "The form has expired; please log in again.",
    "登录失败次数过多，请 15 分钟后再试。": "Too many failed logins; try again in 15 minutes.",
    "用户名或密码错误。": "Wrong user name or password.",
    # labels
    "严重": "high", "一般": "medium", "轻微": "low",
    "待审核": "new", "已上报主管": "escalated", "确认违法": "Confirm violation", "误报": "False positive",
    "已跳过": "skipped", "已转线索": "promoted",
    "绝对化用语": "Absolute terms", "医疗健康": "Medical and health", "保健食品": "Health food",
    "药品器械": "Drugs and devices", "教育培训": "Education", "金融理财": "Finance", "房地产": "Real estate",
    "价格欺诈": "Price fraud", "虚假紧迫": "False urgency", "霸王条款": "Unfair terms",
    "虚假宣传": "False advertising", "直播营销": "Livestream", "其他": "Other",
    "登记": "registered", "核查": "verifying", "立案": "filed", "不予立案": "not filed", "移送": "transferred",
    "调查": "investigating", "处罚决定": "decided", "结案": "closed", "已撤回": "withdrawn",
    # queue
    "审核队列 ": "Queue ", "{n} 组": "{n} groups", "全部状态": "all states", "筛选": "Filter", "状态": "State",
    "待处理": "open", "全部": "all", "类别": "Category", "严重程度": "Severity", "行业": "Sector", "网站": "Site",
    "域名，如 shop.example.cn": "host, e.g. shop.example.cn", "抓取日期自": "Captured from", "至": "to",
    "清除": "Clear", "商家 #{id}": "merchant #{id}", "上报给主管的命中": "Escalated to supervisors",
    "保存当前筛选为视图": "Save these filters as a view", "视图名称": "view name", "保存": "Save",
    "删除视图 {name}": "Delete view {name}", "我的视图": "My views",
    "暂无符合条件的命中记录。运行一次抓取后，命中会出现在这里。":
        "No hits match. Hits appear here after a crawl.",
    "命中内容": "Claim", "上下文": "Context", "法律依据": "Legal basis", "网址": "URL", "核查期限": "Verify by",
    "抓取时间": "Captured", "选择": "Select", "字段：{f}": "field: {f}",
    "同一宣传共 {n} 处，{p} 个页面": "same claim {n} times on {p} pages", "选择命中 #{id}": "select hit #{id}",
    "批量操作已勾选的行": "Bulk action on marked rows", "请选择…": "Choose…",
    "跳过": "Skip", "上报主管": "Escalate", "理由（必填）": "Reason (required)", "批量处理": "Apply",
    "按 m 勾选或取消勾选当前行；每条命中单独校验权限，未处理的会列出原因。":
        "Press m to mark the current row; each hit is checked on its own and skipped ones are listed with why.",
    "分页": "Pages", "上一页": "Previous", "下一页": "Next",
    "我的最近决定": "My recent decisions", "（可撤销最近十次）": "(the last ten can be undone)",
    "命中": "hit", "线索 #{id}": "lead #{id}", "（已撤销）": " (undone)", "撤销上一次决定（u）": "Undo the last decision (u)",
    "还没有决定。": "No decisions yet.", "标记为误报": "Mark as false positive",
    "误报理由（必填，将反馈给规则编写人员）": "Why is it a false positive? (required; goes to the rule's author)",
    "提交（Enter）": "Submit (Enter)", "取消（Esc）": "Cancel (Esc)", "键盘快捷键": "Keyboard shortcuts",
    "下一条 / 上一条": "next / previous", "打开详情": "open the hit",
    "确认违法（并登记到该商家的线索）": "confirm the violation (joins the merchant's lead)",
    "误报（需填写理由）": "false positive (asks for a reason)", "撤销上一次决定（最近十次）": "undo the last decision (last ten)",
    "勾选或取消勾选当前行（用于批量处理）": "mark or unmark the row (for bulk actions)", "显示本帮助": "show this help",
    "关闭对话框": "close a dialog", "关闭": "Close", "键盘": "Keys",
    "上下移动": "move", "全部快捷键": "all keys", "撤销": "undo",
    "正在提交…": "Submitting…", "（按 u 撤销）": " (u to undo)", "本页已全部处理。": " This page is done.",
    "请填写误报理由。": "Please give a reason.", "操作失败": "Failed",
    "剩余 {n} 个工作日": "{n} working days left", "已超期 {n} 个工作日": "overdue by {n} working days",
    "剩余 {n} 天": "{n} days left", "已超期 {n} 天": "overdue by {n} days", "今日到期": "due today",
    # decisions (server messages)
    "已确认违法，并登记到线索": "Confirmed and added to a lead", "已标记为误报": "Marked as false positive",
    "请求校验失败（CSRF），请刷新页面后重试。": "Request check failed (CSRF); reload the page and try again.",
    "您的角色无权执行此操作。": "Your role may not do this.", "没有这条命中记录。": "No such hit.",
    "该命中已有结论；如需更改，请先撤销。": "This hit is already decided; undo first to change it.",
    "该命中已上报主管，只能由主管决定。": "This hit was escalated; only a supervisor may decide it.",
    "该命中已上报主管。": "This hit is already escalated.", "标记误报必须填写理由。": "A false positive needs a reason.",
    "没有可撤销的决定（仅可撤销最近十次）。": "Nothing to undo (only the last ten decisions).",
    "登录已过期，请重新登录。": "Your session has expired; please log in again.",
    # bulk
    "批量处理结果": "Bulk action result", "已处理": "Applied", "已跳过 ": "Skipped ", "原因": "Why",
    "整体撤销本次批量处理": "Undo this bulk action", "理由：{r}": "Reason: {r}",
    "已处理 {a} 项（含同组命中共 {n} 条），跳过 {s} 项。": "Applied to {a} items ({n} hits with their groups), skipped {s}.",
    "（同组 {n} 条）": " ({n} in the group)",
    # hit
    "← 返回审核队列": "← Back to the queue", "命中 #{id}": "Hit #{id}",
    "审核决定": "Decision", "误报理由": "Reason", "命中上下文": "Claim in context", "命中内容（字段：{f}）": "Claim (field: {f})",
    "规则与法律依据": "Rule and legal basis", "规则包 {p} {v}": "pack {p} {v}", "说明": "Message", "置信度": "Confidence",
    "存档页面": "Archived page", "页面截图（抓取时全页截屏）": "Screenshot (full page, at capture)",
    "存档页面回放（沙箱隔离，脚本不执行）": "Archived page replay (sandboxed, no scripts)",
    "回放来自独立端口的沙箱，页面脚本不会执行，也不会访问商家网站。":
        "Replayed from a sandbox on a separate port: the page's scripts do not run and the merchant's site is not contacted.",
    "该采集没有存档页面或截图。": "No archived page or screenshot for this capture.", "取证信息": "Evidence",
    "页面标题": "Page title", "抓取方式": "Method", "页面 SHA-256": "Page SHA-256", "哈希链": "Hash chain",
    "第 {n} 条采集，链值": "capture {n}, chain value", "导出本条证据包": "Export this hit's evidence bundle",
    "审核记录": "Decisions", "尚无审核决定。": "No decisions yet.", "（撤销）": " (undo)", "，理由：{r}": ", reason: {r}",
    # leads
    "{n} 条": "{n}", "办理中": "in progress", "编号": "No.", "商家": "Merchant", "命中数": "Hits", "期限": "Deadline",
    "登记时间": "Registered", "挂牌督办": "Supervised", "立案待审批": "filing awaits approval", "督办": "supervised",
    "核查时限：自发现线索之日起 15 个工作日（《市场监督管理行政处罚程序规定》第十八条；节假日未计入，请以当地工作日历为准）；立案后 90 日内作出处罚决定（《行政处罚法》第六十条）。":
        "Verification within 15 working days of discovery (SAMR penalty procedure rules, Art. 18; public holidays "
        "not counted, check the local calendar); a decision within 90 days of filing (Administrative Penalty Law, Art. 60).",
    "暂无线索。在审核队列中确认违法（a）即可登记线索。": "No leads yet. Confirming a hit in the queue (a) registers one.",
    "← 返回线索列表": "← Back to leads", "（未具名）": "(unnamed)", "统一社会信用代码": "unified social credit code",
    "来源": "Source", "网络监测": "online monitoring", "登记人": "Registered by",
    "自发现线索之日起 15 个工作日内核查完毕，经批准可延长 15 个工作日（《市场监督管理行政处罚程序规定》第十八条）。":
        "Verify within 15 working days of discovery; +15 working days with approval (SAMR penalty procedure rules, Art. 18).",
    "核查延期": "Verification extended", "已批准延长 15 个工作日": "extended by 15 working days with approval",
    "立案申请": "Filing request",
    "待主管审批：{by} 于 {at} 申请；依据 {basis}；办案人员 {officers}；理由 {reason}":
        "awaiting a supervisor: requested by {by} on {at}; basis {basis}; officers {officers}; reason {reason}",
    "立案日期": "Filed on", "办案人员": "Officers", "处罚决定期限": "Decision due",
    "自立案之日起 90 日内作出处罚决定（《行政处罚法》第六十条），经批准可延长。":
        "Decide within 90 days of filing (Administrative Penalty Law, Art. 60); extendable with approval.",
    "限 {d} 前办结": "to be finished by {d}", "备注": "Note",
    "导出证据包（zip：WARC、截图、哈希链证明、电子数据提取笔录）":
        "Export the evidence bundle (zip: WARC, screenshots, hash-chain proofs, extraction report)",
    "公开发布": "Publish", "发布到公开页面和订阅源；电话、身份证号、邮箱、社交账号等个人信息会自动隐去。":
        "Publishes to the public page and feed; phone numbers, ID numbers, e-mail and messaging accounts are redacted.",
    "类型": "Kind", "典型案例": "Typical case", "消费预警": "Consumer warning", "标题": "Title", "摘要": "Summary",
    "发布": "Publish", "办理": "Next steps", "法定情形": "Statutory ground", "移送依据": "Referral ground",
    "如《中华人民共和国广告法》第九条、第五十七条": "e.g. Advertising Law Art. 9, Art. 57",
    "办案人员一": "First officer", "办案人员二": "Second officer", "办结期限": "Finish by", "理由": "Reason",
    "意见（可选）": "Comment (optional)", "命中记录": "Hits", "该线索没有命中记录。": "This lead has no hits.",
    "办理记录": "History", "暂无办理记录。": "No steps yet.", "时间": "Time", "操作": "Action", "办理人": "By",
    # workflow steps
    "开始核查": "Start verification", "申请立案": "Request filing", "批准立案": "Approve filing",
    "驳回立案申请": "Reject the filing request", "延长核查期限（15 个工作日）": "Extend verification (15 working days)",
    "开始调查": "Start investigation", "延长处罚决定期限（30 日）": "Extend the decision deadline (30 days)",
    "作出处罚决定": "Record the penalty decision",
    "填写立案依据并指定两名具有执法资格的办案人员，由主管审批。":
        "Give the legal basis and name two qualified officers; a supervisor approves.",
    "审批人不能是申请人；立案后 90 日内作出处罚决定。": "The approver cannot be the requester; decide within 90 days of filing.",
    "填写处罚决定书文号与处罚依据条款。": "Give the decision number and the penalty articles.",
    "设定限时办结日期。": "Set the date by which the case must be finished.",
    "经负责人批准可延长 30 日；再延长须集体讨论决定（《市场监督管理行政处罚程序规定》）。":
        "Extendable by 30 days with approval; further extension needs a collective decision.",
    "请填写理由。": "Please give a reason.", "请选择不予立案的法定情形。": "Choose the statutory ground for not filing.",
    "请选择移送依据。": "Choose the referral ground.", "请填写法律依据。": "Please give the legal basis.",
    "立案须指定两名不同的办案人员。": "Filing needs two different officers.",
    "办案人员须为在岗的执法人员或主管。": "Officers must be active inspectors or supervisors.",
    "请填写办结期限日期。": "Please give the finish-by date.", "办结期限不能早于今天。": "The date cannot be in the past.",
    "线索当前状态不允许此操作。": "The lead's state does not allow this step.",
    "已有待审批的立案申请。": "A filing request is already pending.", "没有待审批的立案申请。": "No filing request is pending.",
    "审批人不能是立案申请人。": "The approver cannot be the one who requested filing.",
    "核查期限已延长过一次。": "Verification was already extended once.",
    "处罚决定期限已延长过一次，再延长须集体讨论决定。":
        "The decision deadline was already extended; a further extension needs a collective decision.",
    "没有这条线索。": "No such lead.", "没有这个页面。": "No such page.",
    # dashboard, merchants, rules, audit, public pages
    "办理中的线索": "Open leads", "按期限": "by deadline", "按类别": "by category", "近期没有命中。": "No recent hits.",
    "合计": "Total", "行业 × 类别": "Sector × category", "规则准确率": "Rule precision",
    "确认违法 ÷（确认违法 + 误报）": "confirmed ÷ (confirmed + false positives)", "准确率": "Precision",
    "商家风险排名": "Merchants by risk", "行政约谈参考": "basis for administrative interviews",
    "风险分 = Σ（严重程度权重 × 审核结论权重 × 时效衰减，90 天减半）× 重复违法系数 + 已立案线索分；误报与跳过不计分。":
        "Risk = Σ(severity weight × verdict weight × recency, halved every 90 days) × repeat factor + case points; "
        "false positives and skipped hits count for nothing.",
    "暂无商家数据。": "No merchants yet.", "排名": "Rank", "风险分": "Risk", "重复系数": "Repeat factor",
    "最近命中": "Last hit", "← 商家风险排名": "← Merchants by risk", "首次 / 最近发现": "First / last seen",
    "该商家待审核的命中": "This merchant's open hits", "全部命中": "all hits", "近 26 周命中趋势": "Hits over 26 weeks",
    "暂无线索。": "No leads.", "暂无命中。": "No hits.", "试运行一段文字": "Try a text", "误报样例": "False positives",
    "准确率 = 确认违法 ÷（确认违法 + 误报），来自审核结论。": "Precision = confirmed ÷ (confirmed + false positives), from reviewers' verdicts.",
    "样例（应命中 / 不应命中）": "Examples (must / must not match)", "待审": "Open", "← 规则": "← Rules",
    "规则试运行": "Try the rules", "与抓取时使用同一规则引擎": "the same engine as the crawl",
    "待检测文字": "Text to check", "检测": "Check", "检测结果": "Result", "未命中任何规则。": "No rule matches.",
    "审核人员标记为误报的命中及其理由。每条规则下方给出加入": "Hits that reviewers dismissed, with their reasons. Under each rule: the",
    "的 YAML；修改规则后以": "YAML to add; after changing the rule, check with",
    "验证通过再提交；规则编写人员也可直接写入，系统先在副本上运行全部规则测试，通过后才替换规则文件。":
        "before committing. Rule authors may also write it here: every rule test runs on a copy first, and the file is replaced only if they pass.",
    "暂无误报。": "No false positives.", "审核人": "Reviewer", "写入规则包": "Write to the pack",
    "加入 must_not_match": "Add to must_not_match", "只读": "read only", "操作人": "Actor", "对象类型": "Object type",
    "对象编号": "Object id", "校验哈希链": "Verify the hash chain", "没有符合条件的记录。": "No matching rows.",
    "序号": "No.", "对象": "Object", "内容": "Detail", "链值": "Chain value", "更早的记录": "Older rows",
    "典型案例与消费预警": "Typical cases and consumer warnings", "订阅（Atom）": "Subscribe (Atom)",
    "暂无发布内容。": "Nothing published yet.", "← 典型案例与消费预警": "← Typical cases and consumer warnings",
    "经营者": "Business operator", "处罚依据": "Penalty basis", "违法宣传内容": "Illegal claims", "宣传用语": "Claim",
    "已超期 {n} 条": "{n} overdue", "3 个工作日内到期 {n} 条": "{n} due within 3 working days", "其他 {n} 条": "{n} others",
    "近 {n} 周命中数": "Hits over {n} weeks", "{d} 起": "from {d}", "近 {n} 周": "last {n} weeks",
    "（未具名商家）": "(unnamed merchant)", "加权命中 {w} × 重复系数 {r} + 线索 {l}": "weighted hits {w} × repeat {r} + cases {l}",
    "近 26 周每周命中数，最多 {n} 条": "hits per week over 26 weeks, at most {n}", "{d} 起一周：{n} 条": "week from {d}: {n}",
    "{n} 条命中": "{n} hits", "最近 {n} 条": "latest {n}",
    "规则包有错误，仍在使用上一次加载成功的版本：": "A pack has errors; the last good version is still in use: ",
    "{n} 处命中": "{n} hits", "{n} 条误报": "{n} false positives", "如 hit.state": "e.g. hit.state",
    "哈希链完整：已校验 {n} 条，链头": "Hash chain intact: {n} rows checked, head",
    "哈希链断裂：第 {n} 条起记录被改动或缺失": "Hash chain broken: rows from {n} on were changed or are missing",
    "发布时间": "Published", "价格走势": "Price history", "圈出的是证明本条命中的采集": "ringed: the captures that prove this hit",
}  # fmt: skip


STATE_EN = {"new": "new", "triaged": "escalated", "confirmed": "confirmed", "false_positive": "false positive",
            "ignored": "skipped", "promoted": "promoted"}  # fmt: skip


def state_label(state: str, zh: dict) -> str:
    """A hit state's label (its Chinese and English labels differ from the buttons that set them)."""
    return STATE_EN.get(state, state) if LANG.get() == "en" else zh.get(state, state)


def gettext(text: str, **values) -> str:
    """`text` in the request's language, with `{name}` values filled in."""
    out = EN.get(text, text) if LANG.get() == "en" else text
    return out.format(**values) if values else out
