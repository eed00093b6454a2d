"""The report's churn outlook and journey stages (transforms/report/outlook.py) on the churn-risk stories of
test_journey_timing.py, with a hand-made marts.churn_predictions and marts.churn_model_backtest (the churn
model's contract), and without them."""

from html.parser import HTMLParser

import pytest

from tests.support.story import Landing, build_metrics
from tests.unit.test_journey_timing import lists_for, risk_stories
from transforms import report

HOSTILE = "<img src=x onerror=alert(1)> & \"drivers\""
AS_OF = "2025-06-30 12:00:00"


class Text(HTMLParser):
    """The page's text, and every tag seen."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def page_of(con, tmp_path) -> tuple[str, dict]:
    build_metrics(con)
    files, data = report.build_report(con, tmp_path / "reports")
    return files.latest.read_text(), data


@pytest.fixture(scope="module")
def modelled(tmp_path_factory):
    root = tmp_path_factory.mktemp("outlook")
    landing = Landing(root / "landing")
    landing.add(*risk_stories())
    probabilities = {"MONTHLY": 0.35, "YEARLY": 0.1, "BOTTOM": 0.9, "UNPAID": 0.25, "BOTH": 0.5, "QUIETER": 0.02}
    con, _ = lists_for(landing, predictions=[(a, AS_OF, p, HOSTILE if a == "BOTTOM" else "usage down", "gbm-1")
                                             for a, p in probabilities.items()])
    # the churn model's own columns: its MRR and MRR at risk, worked out by hand (probability x MRR)
    con.execute("alter table marts.churn_predictions add column mrr decimal(18, 2)")
    con.execute("""update marts.churn_predictions as p set mrr = a.mrr from marts.accounts as a
                   where a.account_id = p.account_id""")
    at_risk = {"MONTHLY": "336.00", "YEARLY": "150.00", "BOTTOM": "90.00", "UNPAID": "25.03", "BOTH": "50.00",
               "QUIETER": "2.00"}
    for account_id, amount in at_risk.items():
        con.execute("update marts.churn_predictions set expected_mrr_at_risk = ?::decimal(18, 2) "
                    "where account_id = ?", [amount, account_id])
    con.execute("""create table marts.churn_model_backtest as select
        'gbm-1' as model_version, date '2025-02-01' as trained_through, '2025-03..2025-05' as test_months,
        0.83 as auc, 0.31 as pr_auc, 0.66 as rules_auc, 0.12 as rules_pr_auc, null::double as true_hazard_auc,
        0.061 as brier, 0.021 as calibration_error, 40::bigint as k, 0.35 as precision_at_k, 0.4 as recall_at_k,
        0.2 as rules_precision, 0.25 as rules_recall""")
    return page_of(con, root)


def test_churn_outlook_sums_the_mrr_at_risk_and_lists_the_riskiest(modelled):
    _, data = modelled
    outlook = data["churn_outlook"]
    # 336 + 150 + 90 + 50 + 25.03 + 2 = 653.03 of 960 + 1,500 + 100 + 100 + 100.10 + 100 = 2,860.10 MRR
    assert outlook["mrr_at_risk"] == pytest.approx(653.03)
    assert outlook["share_of_mrr"] == pytest.approx(653.03 / 2860.10)
    assert outlook["expected_churns"] == pytest.approx(2.12)  # 0.35 + 0.1 + 0.9 + 0.25 + 0.5 + 0.02
    assert [r["account_id"] for r in outlook["riskiest"]] == ["MONTHLY", "YEARLY", "BOTTOM", "BOTH", "UNPAID",
                                                               "QUIETER"]
    assert outlook["riskiest"][0]["recommended_action"].startswith("Offer an annual plan with 2 months free")
    assert outlook["backtest"]["auc"] == 0.83 and outlook["rules_fallback"] is False


def test_the_page_shows_the_outlook_the_stages_and_hostile_drivers_as_text(modelled):
    page, _ = modelled
    parsed = Text()
    parsed.feed(page)
    text = " ".join(parsed.text)
    assert '<section id="churn-outlook">' in page and 'href="#churn-outlook"' in page
    assert "MRR at risk next quarter" in text and "$653.03" in text
    assert "Offer a downgrade to Growth for its 50 seats" in text
    assert HOSTILE in text and "img" not in parsed.tags  # the drivers are the model's text: shown, never markup
    assert "awareness, interest and consideration come before it" in text
    assert 'data-stage="at_risk"' in page  # the six accounts on the churn-risk list
    assert "Top 6 of 6 by MRR at risk." in text


def test_without_a_model_the_section_says_so(tmp_path):
    landing = Landing(tmp_path / "landing")
    landing.add(*risk_stories())
    con, _ = lists_for(landing)
    page, data = page_of(con, tmp_path)
    assert data["churn_outlook"] == {"available": False}
    assert "No churn model has scored the accounts yet" in page
    assert "Top 6 of 6 by score." in page
    stages = {s["stage"]: s["accounts"] for s in data["journey_stages"]}
    assert stages == {"trial": 0, "onboarding": 0, "adopting": 0, "expanding": 0, "at_risk": 6, "churned": 0,
                      "reactivated": 0}
