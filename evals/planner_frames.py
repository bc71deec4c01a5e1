"""Sentence frames for the planner corpus (see `planner_corpus`): one intent each, English and Chinese.

Placeholders: {c}/{c1}/{c2}/{c3} clients, {p}/{p1}/{p2}/{p3} products, {q} a quoted draft. `needs` says
which steps the gold plan has (credit, summary, quote); `context` is an earlier user turn a follow-up
refers back to. A recommendation, suitability question or comparison needs only credit and summary: the
graph's compliance gate checks the answer and each product's suitability. A frame's split is a hash of its text, so adding frames never moves
existing ones between splits.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Frame:
    kind: str
    lang: str
    text: str
    needs: tuple[str, ...] = ()
    clients: int = 0
    products: int = 0
    context: str = ""


def _many(
    kind: str,
    lang: str,
    texts: list[str],
    needs: tuple[str, ...] = (),
    clients: int = 0,
    products: int = 0,
    context: str = "",
) -> list[Frame]:
    return [Frame(kind, lang, t, needs, clients, products, context) for t in texts]


CREDIT = ("credit",)
SUMMARY = ("summary",)
BOTH = ("credit", "summary")
RECOMMEND = BOTH  # the compliance gate checks suitability

FRAMES: list[Frame] = [
    # --- one client's credit -------------------------------------------------------------------
    *_many(
        "credit",
        "en",
        [
            "What is the credit score of {c}?",
            "Check {c}'s credit, please.",
            "Pull the bureau rating for {c}.",
            "Can you run a credit check on {c}?",
            "How creditworthy is {c}?",
            "I need the PD and rating grade for {c}.",
            "Give me a credit assessment of my client {c}.",
            "What's {c}'s default risk looking like?",
            "Before our meeting, could you look up the scorecard result for {c}?",
            "Score {c} for me.",
        ],
        CREDIT,
        clients=1,
    ),
    *_many(
        "credit",
        "zh",
        [
            "客户{c}的信用评分是多少？",
            "查一下{c}的征信",
            "帮我看看{c}的违约概率和评级",
            "{c}的信用状况怎么样？",
            "请对客户{c}做一次信用评估。",
            "我想了解{c}的资信情况",
            "给{c}打个信用分",
            "明天见{c}之前，先查下他的信用评级",
            "{c}的违约风险高不高？",
            "麻烦调一下{c}的征信报告和评分",
        ],
        CREDIT,
        clients=1,
    ),
    # --- one product's report ------------------------------------------------------------------
    *_many(
        "summary",
        "en",
        [
            "Summarize the latest {p} report.",
            "Give me a brief on the newest {p} research.",
            "What does the latest research report on {p} say?",
            "I need a short summary of the {p} report.",
            "Can you brief me on {p}'s most recent report?",
            "What's the outlook in the latest {p} research note?",
            "Quick summary of the {p} report please.",
            "Walk me through the key points of the newest report on {p}.",
            "Any news in the latest {p} report? Summarize it.",
            "TL;DR of the {p} research report?",
        ],
        SUMMARY,
        products=1,
    ),
    *_many(
        "summary",
        "zh",
        [
            "总结一下{p}的最新研报",
            "{p}最近的报告讲了什么？",
            "帮我概括{p}最新的研究报告",
            "给我一个{p}研报的摘要",
            "{p}的最新报告有什么要点？",
            "请简要总结{p}的研究报告。",
            "我想看{p}最新一期报告的概要",
            "说说{p}最新研报的核心观点",
            "{p}的研报帮我提炼一下重点",
            "概述一下{p}最近的研究",
        ],
        SUMMARY,
        products=1,
    ),
    # --- credit and a report -------------------------------------------------------------------
    *_many(
        "credit_summary",
        "en",
        [
            "Client {c} is looking at {p}: check the credit and summarize the {p} report.",
            "Score {c} and give me a summary of the latest {p} report.",
            "Two things: {c}'s credit score, and the newest research on {p}.",
            "Pull {c}'s credit and brief me on the {p} report.",
            "I'm meeting {c} about {p}. Get me the credit rating and the latest report summary.",
            "Check credit for {c}; also what does the {p} research say?",
            "Could you look up {c}'s PD and summarize {p}'s latest report?",
            "Credit check on {c} plus a {p} report summary.",
        ],
        BOTH,
        clients=1,
        products=1,
    ),
    *_many(
        "credit_summary",
        "zh",
        [
            "查一下客户{c}的信用，再总结{p}的最新报告",
            "{c}的征信和{p}的研报摘要都给我",
            "客户{c}在看{p}，帮我查信用并概括研报",
            "先看{c}的信用评分，然后总结一下{p}的最新研究",
            "我要见{c}聊{p}，准备一下他的评级和{p}报告要点",
            "请提供{c}的违约概率以及{p}研报的概要。",
            "{c}信用怎么样？顺便说说{p}最新报告讲了什么",
            "给{c}做个信用评估，再帮我读一下{p}的研报",
        ],
        BOTH,
        clients=1,
        products=1,
    ),
    # --- recommendation: credit and report (the gate checks suitability) -----------------------
    *_many(
        "recommend",
        "en",
        [
            "Client {c} wants {p}: check credit, summarize the latest {p} report, make my recommendation compliant.",
            "Before I pitch {p} to {c}, run a credit check, summarize the {p} research and check suitability.",
            (
                "I'd like to recommend {p} to {c}. Please check her credit, brief me on the report and make sure it's "
                "suitable."
            ),
            "{c} asked about buying {p}. Prepare a compliant recommendation with the credit and the latest report.",
            "Should {c} invest in {p}? Look at the credit, the research, and whether it suits the client.",
            "Draft a suitable, compliant pitch of {p} for {c}, using the credit score and latest report.",
            "Help me advise {c} on subscribing to {p}: credit, report summary and a suitability check.",
            "Get everything I need to recommend {p} to {c} (credit, research, compliance).",
        ],
        RECOMMEND,
        clients=1,
        products=1,
    ),
    *_many(
        "recommend",
        "zh",
        [
            "客户{c}想买{p}：查一下信用，总结{p}最新研报，并确保我的推荐合规。",
            "我准备向{c}推荐{p}，请查信用、概括研报并做适当性检查",
            "{c}打算申购{p}，帮我看看信用、研报，确认是否适合他",
            "给{c}推荐{p}之前，先做信用评估和研报总结，再检查合规",
            "{c}问能不能投{p}，把征信、研报摘要和适当性都过一遍",
            "帮我准备一份给{c}的{p}推荐，要有信用评分、最新研报，并且合规",
            "请评估向客户{c}推荐{p}是否合适：信用、研报、合规都要",
            "{c}想配置{p}，信用查一下，研报总结一下，推荐话术要合规",
        ],
        RECOMMEND,
        clients=1,
        products=1,
    ),
    # --- suitability only ----------------------------------------------------------------------
    *_many(
        "suitability",
        "en",
        [
            "Is {p} suitable for client {c}?",
            "Would {p} be appropriate for {c} given her risk profile?",
            "Check whether recommending {p} to {c} passes suitability.",
            "Can I sell {p} to {c}, suitability-wise?",
            "Does {p} match {c}'s risk tolerance?",
            "Suitability check: {c} and {p}.",
            "Is it compliant to offer {p} to {c}?",
        ],
        RECOMMEND,
        clients=1,
        products=1,
    ),
    *_many(
        "suitability",
        "zh",
        [
            "{p}适合客户{c}吗？",
            "帮我做个适当性检查：{c}能不能买{p}",
            "{c}的风险承受能力匹配{p}吗？",
            "向{c}推荐{p}合规吗",
            "{p}对{c}来说合适吗？",
            "请检查{c}购买{p}是否符合适当性要求。",
            "{c}买{p}会不会有适当性问题？",
        ],
        RECOMMEND,
        clients=1,
        products=1,
    ),
    # --- a report whose answer must be compliant (the gate checks every answer) ----------------
    *_many(
        "summary_check",
        "en",
        [
            "Summarize the {p} report and make sure my write-up is compliant.",
            "Brief me on the latest {p} research; keep the wording compliant, it goes to clients.",
            "I'll forward a summary of the {p} report to clients, so check it for compliance.",
            "Summarize {p}'s newest report in a client-ready, compliant way.",
            "Write up the {p} research and run the compliance check on it.",
            "Need a compliant summary of the {p} report for my newsletter.",
        ],
        SUMMARY,
        products=1,
    ),
    *_many(
        "summary_check",
        "zh",
        [
            "总结{p}的研报，并做合规检查",
            "把{p}最新研报概括一下，要发给客户，注意合规",
            "{p}的报告摘要帮我写一下，然后检查是否合规",
            "我要把{p}的研报要点转给客户，请确保表述合规",
            "概括{p}最新报告，并检查有没有违规表述",
            "请出一份合规的{p}研报摘要",
        ],
        SUMMARY,
        products=1,
    ),
    # --- several clients -----------------------------------------------------------------------
    *_many(
        "multi_credit",
        "en",
        [
            "Compare the credit of {c1} and {c2}.",
            "Check credit scores for {c1} and {c2}.",
            "Who is the better credit risk, {c1} or {c2}?",
            "Pull bureau ratings for {c1}, {c2} and {c3}.",
            "Run credit checks on these clients: {c1}, {c2}.",
            "I need the PDs of {c1} and {c2} side by side.",
        ],
        CREDIT,
        clients=2,
    ),
    *_many(
        "multi_credit",
        "zh",
        [
            "比较一下{c1}和{c2}的信用",
            "查一下{c1}、{c2}的征信",
            "{c1}和{c2}谁的违约风险更低？",
            "帮我看看{c1}和{c2}两位客户的信用评分",
            "请分别评估{c1}与{c2}的资信。",
            "{c1}、{c2}的评级各是多少",
        ],
        CREDIT,
        clients=2,
    ),
    # --- several products ----------------------------------------------------------------------
    *_many(
        "multi_summary",
        "en",
        [
            "Summarize the {p1} and {p2} reports.",
            "What do the latest reports on {p1} and {p2} say?",
            "Give me briefs on {p1} and {p2}.",
            "Compare the newest research on {p1} versus {p2}.",
            "I need summaries of the {p1} and {p2} research notes.",
            "Quick take on the {p1} and {p2} reports?",
        ],
        SUMMARY,
        products=2,
    ),
    *_many(
        "multi_summary",
        "zh",
        [
            "总结一下{p1}和{p2}的研报",
            "{p1}和{p2}最近的报告分别说了什么？",
            "对比{p1}与{p2}的最新研究",
            "帮我概括{p1}、{p2}两只产品的报告",
            "请给出{p1}和{p2}研报的摘要。",
            "{p1}跟{p2}的研报要点各是什么",
        ],
        SUMMARY,
        products=2,
    ),
    # --- comparison for a client: the credit and both reports (the gate checks suitability) ---
    *_many(
        "compare",
        "en",
        [
            "Compare the latest {p1} and {p2} reports for my client {c}: which suits her better?",
            "{c} is choosing between {p1} and {p2}. Which one fits the client better?",
            "Which is more suitable for {c}, {p1} or {p2}? Use the research and the credit.",
            "Help me decide between {p1} and {p2} for {c}.",
            "For client {c}, weigh {p1} against {p2} and tell me which is the better fit.",
            "Should I put {c} in {p1} or {p2}?",
        ],
        RECOMMEND,
        clients=1,
        products=2,
    ),
    *_many(
        "compare",
        "zh",
        [
            "对比{p1}和{p2}的最新研报，哪个更适合客户{c}？",
            "{c}在{p1}和{p2}之间犹豫，哪个更合适？",
            "帮{c}比较一下{p1}和{p2}，结合信用看看适合哪个",
            "{p1}还是{p2}，哪个更适合{c}",
            "请为客户{c}评估{p1}与{p2}，给出更合适的选择。",
            "{c}该买{p1}还是{p2}？",
        ],
        RECOMMEND,
        clients=1,
        products=2,
    ),
    # --- a quoted draft to check ---------------------------------------------------------------
    *_many(
        "draft",
        "en",
        [
            'Is this OK to send to my client: "{q}"',
            'Please check this message for compliance: "{q}"',
            'Can I post this to clients? "{q}"',
            'Review my draft before it goes out: "{q}"',
            'Does this wording pass compliance? "{q}"',
            'Compliance check on the following text: "{q}"',
            'Quick compliance read on this before I hit send: "{q}"',
            'My client newsletter says: "{q}" Any problems?',
            'Would compliance sign off on this? "{q}"',
            'Flag anything wrong in this text: "{q}"',
            'I\'m about to WhatsApp this to a few clients: "{q}" OK?',
            'Here\'s what I plan to tell clients: "{q}" Is that allowed?',
            'Screen this paragraph for regulatory issues: "{q}"',
            'Any red flags in my message? "{q}"',
        ],
        ("quote",),
    ),
    *_many(
        "draft",
        "zh",
        [
            "这段话发给客户合规吗：“{q}”",
            "帮我检查一下这段文案是否合规：“{q}”",
            "下面这条消息能发吗？“{q}”",
            "审一下我的草稿：“{q}”",
            "请对以下内容做合规审查：“{q}”",
            "这样写有没有问题？“{q}”",
            "发之前帮我过一下合规：“{q}”",
            "朋友圈准备这么写，有风险吗？“{q}”",
            "这段宣传语有没有违规？“{q}”",
            "看看这条消息有没有合规问题：「{q}」",
            "我打算群发给客户：“{q}”，可以吗？",
            "这个话术能不能用：“{q}”",
        ],
        ("quote",),
    ),
    *_many(
        "draft_suit",
        "en",
        [
            'I want to send this about {p} to {c}: "{q}" Is it compliant and suitable?',
            'Check my note to {c} on {p} before I send it: "{q}"',
            'Draft for {c} recommending {p}: "{q}" Please review.',
            'Can {c} receive this pitch for {p}? "{q}"',
            'Going to message {c} about {p} with this: "{q}" Does it pass?',
            'Text for {c} on {p}, please vet it: "{q}"',
            '{c} asked about {p}; I drafted this reply: "{q}" Can I send it?',
            'Is this pitch of {p} fine to give {c}? "{q}"',
            'Review the wording I\'ll use with {c} for {p}: "{q}"',
            'Compliance-check my email to {c} recommending {p}: "{q}"',
            'Before I call {c} about {p}, is this script OK? "{q}"',
            'Here is my recommendation of {p} for {c}: "{q}" Anything to fix?',
        ],
        ("quote",),
        clients=1,
        products=1,
    ),
    *_many(
        "draft_suit",
        "zh",
        [
            "我想把这段关于{p}的话发给{c}：“{q}”，合规吗？",
            "给{c}推荐{p}的文案，帮我审一下：“{q}”",
            "这条{p}的推荐发给{c}可以吗？“{q}”",
            "{c}要买{p}，我准备这么说：“{q}”，请检查",
            "准备给{c}发{p}的介绍：“{q}”，帮我把关",
            "{c}问起{p}，我这样回复行吗：“{q}”",
            "向{c}推荐{p}的话术：“{q}”，有没有问题？",
            "帮我审核发给{c}的{p}推荐语：「{q}」",
            "关于{p}，我想跟{c}说：“{q}”，合规吗",
            "这段给{c}介绍{p}的文字能发吗？“{q}”",
            "打电话给{c}推{p}前，看看这段话术：“{q}”",
            "我给{c}写的{p}推荐：“{q}”，请审核",
        ],
        ("quote",),
        clients=1,
        products=1,
    ),
    # a draft to one client that names the product only inside the quote
    *_many(
        "draft_client",
        "en",
        [
            'Can I send this to {c}? "{q}"',
            'Planning to email {c} the following: "{q}" Please check.',
            'Vet my message to {c}: "{q}"',
            '{c} will get this note from me tomorrow: "{q}" Compliant?',
            'Does this reply to {c} pass compliance? "{q}"',
            'Proofread for compliance, it\'s going to {c}: "{q}"',
            'I wrote this for my client {c}: "{q}" Is it okay?',
            'Check the wording of my text to {c}: "{q}"',
            'Any issues with sending {c} this? "{q}"',
            'Please review what I\'m telling {c}: "{q}"',
        ],
        ("quote",),
        clients=1,
        products=1,
    ),
    *_many(
        "draft_client",
        "zh",
        [
            "这条消息能发给{c}吗：“{q}”",
            "帮我瞧瞧发给{c}的内容：“{q}”",
            "明天要给{c}发这段话：“{q}”，合规吗？",
            "我给{c}的回复是：“{q}”，有问题吗",
            "审一下我写给{c}的话：“{q}”",
            "准备这样跟{c}说：“{q}”，帮我检查",
            "发给客户{c}前请把关：「{q}」",
            "{c}那边我打算这么回：“{q}”，可以吗",
            "这段话术给{c}用合适吗？“{q}”",
            "检查一下我要发{c}的文字：“{q}”",
        ],
        ("quote",),
        clients=1,
        products=1,
    ),
    # --- follow-ups ----------------------------------------------------------------------------
    *_many(
        "followup_credit",
        "en",
        [
            "And his credit?",
            "What about her credit score?",
            "Now check the client's credit too.",
            "Also pull the credit rating for that client.",
            "How risky is that client, credit-wise?",
        ],
        CREDIT,
        clients=1,
        context="Summarize what {c} holds and how the account has done.",
    ),
    *_many(
        "followup_credit",
        "zh",
        [
            "那他的信用呢？",
            "再查一下这位客户的征信",
            "她的评分是多少？",
            "顺便看看这个客户的违约概率",
            "这位客户信用怎么样",
        ],
        CREDIT,
        clients=1,
        context="我下午要见客户{c}。",
    ),
    *_many(
        "followup_summary",
        "en",
        [
            "And the latest report on it?",
            "Summarize its newest research too.",
            "What does the report say about it?",
            "Now brief me on that product's research.",
            "Any recent research on that one?",
        ],
        SUMMARY,
        products=1,
        context="My client is asking about {p}.",
    ),
    *_many(
        "followup_summary",
        "zh",
        [
            "它最新的研报呢？",
            "再总结一下这只产品的报告",
            "研报怎么说？",
            "那这个产品最近的研究要点是什么",
            "它的报告帮我概括下",
        ],
        SUMMARY,
        products=1,
        context="客户问起了{p}。",
    ),
    *_many(
        "followup_suit",
        "en",
        [
            "Is it suitable for {c}?",
            "Would that fit {c}?",
            "Can I recommend it to {c}?",
            "OK, and is it appropriate for {c}?",
            "Check if {c} can buy it.",
        ],
        RECOMMEND,
        clients=1,
        products=1,
        context="Summarize the latest {p} report.",
    ),
    *_many(
        "followup_suit",
        "zh",
        [
            "它适合{c}吗？",
            "能推荐给{c}吗",
            "{c}买这个合适吗？",
            "那对{c}来说合规吗",
            "检查一下{c}能不能买",
        ],
        RECOMMEND,
        clients=1,
        products=1,
        context="总结一下{p}的最新研报。",
    ),
    # --- no skill: greetings, thanks, small talk -----------------------------------------------
    *_many(
        "chitchat",
        "en",
        [
            "Good morning!",
            "Thanks, that is all for today.",
            "Hello there",
            "Who are you?",
            "What can you do?",
            "Great, thank you!",
            "Hi, how's it going?",
            "Bye for now.",
            "Nice work, cheers.",
            "Are you a bot?",
        ],
    ),
    *_many(
        "chitchat",
        "zh",
        [
            "你好",
            "谢谢，今天就这些",
            "早上好！",
            "你是谁？",
            "你能做什么？",
            "辛苦了",
            "好的，明白",
            "再见",
            "在吗？",
            "太好了，谢谢！",
        ],
    ),
    # --- out of scope --------------------------------------------------------------------------
    *_many(
        "out_of_scope",
        "en",
        [
            "Book me a flight to Shanghai next Tuesday.",
            "What's the weather in Beijing tomorrow?",
            "Write a poem about autumn.",
            "Tell me a joke.",
            "Order lunch for the team.",
            "Translate 'good afternoon' into French.",
            "Who won the football match last night?",
            "Reset my email password.",
            "Recommend a good restaurant near the office.",
            "Play some music.",
        ],
    ),
    *_many(
        "out_of_scope",
        "zh",
        [
            "帮我订一张去上海的机票",
            "明天北京天气怎么样？",
            "写一首关于秋天的诗",
            "讲个笑话",
            "帮团队订午饭",
            "把“下午好”翻译成法语",
            "昨晚的球赛谁赢了？",
            "帮我重置邮箱密码",
            "推荐一家公司附近的餐厅",
            "放首歌听听",
        ],
    ),
]

# Sentences a draft is built from (2-4 of them): some compliant, some not, so the text varies. A draft
# about a product has one sentence from the `_ABOUT` pools, which name it.
DRAFTS_EN = [
    "Dear client, I recommend adding this fund to your portfolio.",
    "It has returned 6.2% a year over the last three years.",
    "This product is guaranteed to beat inflation with no risk at all.",
    "Past performance does not guarantee future results; you may lose money.",
    "Please read the prospectus and risk disclosure before investing.",
    "You can't lose with this one, it only goes up.",
    "The fund invests mainly in high-grade corporate bonds.",
    "Let me know by Friday if you would like to subscribe.",
    "Returns of 12% are basically certain this year.",
    "The management fee is 0.8% a year.",
    "Given your moderate risk profile, a small allocation could make sense.",
    "Call me on 138 0013 8000 to discuss.",
]
DRAFTS_ZH = [
    "尊敬的客户，建议您配置这只基金。",
    "该产品近三年年化收益6.2%。",
    "本产品保本保收益，绝对没有风险。",
    "过往业绩不代表未来表现，投资有风险。",
    "投资前请仔细阅读产品说明书和风险揭示书。",
    "稳赚不赔，只涨不跌。",
    "基金主要投资于高等级信用债。",
    "如需申购请在周五前告诉我。",
    "今年12%的收益基本确定。",
    "管理费为每年0.8%。",
    "结合您的稳健型风险偏好，可以少量配置。",
    "有问题请拨打13800138000联系我。",
]
DRAFTS_EN_ABOUT = [
    "{p} has returned 6.2% a year over the last three years.",
    "{p} is guaranteed to beat inflation with no risk at all.",
    "I recommend moving part of your savings into {p}.",
    "{p} invests mainly in high-grade corporate bonds.",
    "With {p} your principal is fully protected.",
    "The management fee on {p} is 0.8% a year.",
    "{p} should rise 30% in the next six months.",
    "{p} carries market risk; please read its prospectus.",
]
DRAFTS_ZH_ABOUT = [
    "{p}近三年年化收益6.2%。",
    "{p}保本保收益，绝对没有风险。",
    "建议您把部分存款转入{p}。",
    "{p}主要投资于高等级信用债。",
    "{p}的本金百分百安全。",
    "{p}的管理费为每年0.8%。",
    "{p}半年内至少涨三成。",
    "{p}有市场风险，请阅读产品说明书。",
]
