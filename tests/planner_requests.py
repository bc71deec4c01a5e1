"""Varied advisor requests (English and Chinese) for the planner tests: (request, skills the plan must contain).

A recommendation or suitability question needs no compliance_check step (the graph's gate checks the answer);
a quoted draft does."""

REQUESTS: list[tuple[str, set[str]]] = [
    (
        "Client C-1042 wants the HY-7 bond fund: check credit, summarize the latest HY-7 report, make my "
        "recommendation compliant",
        {"credit_lookup", "report_summary"},
    ),
    ("What is the credit score of C-1001?", {"credit_lookup"}),
    ("Summarize the latest EQ-10 report", {"report_summary"}),
    ("Run a credit check on client C-2013", {"credit_lookup"}),
    ("Give me the PD and rating grade for C-1555", {"credit_lookup"}),
    ("Brief me on the GB-1 research report", {"report_summary"}),
    ("Compare the credit of C-1001 and C-1002", {"credit_lookup"}),
    ("Summarize the HY-8 and IG-3 reports", {"report_summary"}),
    ("Is HY-9 suitable for client C-1042? Check compliance of my pitch", {"credit_lookup", "report_summary"}),
    (
        "I want to recommend BAL-3 to C-1300; check his credit and keep it compliant",
        {"credit_lookup"},
    ),
    (
        "Client C-1777 is interested in EQ-13: summarize its latest report and check suitability",
        {"report_summary"},
    ),
    ("C-1042 credit please", {"credit_lookup"}),
    ("HY-7 report summary, then a compliant note for client C-1042", {"report_summary"}),
    ("What does the latest research say about SN-5?", {"report_summary"}),
    ("Check creditworthiness of C-1100 before I pitch MM-1", {"credit_lookup"}),
    ("Hello!", set()),
    ("Thanks, that's all for today.", set()),
    ("What can you do?", set()),
    (
        "客户C-1042想买HY-7债券基金：查一下信用，总结最新的HY-7研报，并确保我的推荐合规",
        {"credit_lookup", "report_summary"},
    ),
    ("查询客户C-1001的信用评分", {"credit_lookup"}),
    ("总结一下EQ-11的最新研报", {"report_summary"}),
    ("C-1200的违约概率是多少？", {"credit_lookup"}),
    ("请概述GB-2的研究报告", {"report_summary"}),
    ("给客户C-1300推荐BAL-4，帮我做合规检查", {"credit_lookup", "report_summary"}),
    ("比较客户C-1001和C-1002的信用", {"credit_lookup"}),
    ("你好", set()),
    ("IX-1指数基金的最新报告讲了什么？总结一下", {"report_summary"}),
    ("客户C-1500适合买CM-2吗？做一下适当性检查", {"credit_lookup", "report_summary"}),
    ("帮我查C-1042的征信，再总结HY-7报告", {"credit_lookup", "report_summary"}),
    ("谢谢", set()),
    ("Summarize RE-2's report and check the credit of C-1660", {"report_summary", "credit_lookup"}),
    (
        "Please check whether my recommendation of QD-3 to client C-1890 is compliant",
        {"credit_lookup", "report_summary"},
    ),
    ('Is this OK to send to C-1042: "HY-7 is guaranteed to return 8% a year."', {"compliance_check"}),
    ("这段话合规吗：“本基金保证收益，稳赚不赔”", {"compliance_check"}),
]
