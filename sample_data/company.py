"""The simulated company: its plans, price books, customers' countries and names, and the monthly
probabilities of everything its customers do (docs in sample_data/README.md, "What the simulation does").

Constants only; the simulation (simulation.py and the modules it names) reads them, the rendering
(rendering.py) turns their codes back into the names of docs/input-format.md.
"""

from __future__ import annotations

import numpy as np

STREAMS = ("subscription_events", "billing_events", "usage_events")
REFERENCE_DIR = "reference"
# Written first into every output folder: it is what makes a non-empty folder safe to overwrite.
MARKER_FILE = ".subwh-generator.json"

# ------------------------------------------------------------------------------------------ reference data

# Tiers, cheapest first; index = tier_rank - 1. Limits are per month; the top tier has no API limit but a
# seat limit (docs/sales.md: `seat_limit_near` needs one).
PLAN_IDS = ("starter", "growth", "scale", "enterprise")
PLAN_NAMES = ("Starter", "Growth", "Scale", "Enterprise")
SEAT_LIMIT = np.array([5, 25, 100, 1000])
API_LIMIT = np.array([15_000, 100_000, 500_000, -1])  # -1 = unlimited
TOP_TIER = len(PLAN_IDS) - 1
UNLIMITED_API = np.iinfo(np.int64).max // 4

CURRENCIES = ("USD", "EUR", "GBP")
# Price books in cents per seat per month; index [currency, tier]. USD is plans.csv's list price.
PRICE_BOOK = np.array(
    [
        [1500, 3500, 6500, 11000],
        [1400, 3200, 5900, 9900],
        [1200, 2800, 5100, 8600],
    ],
    dtype=np.int64,
)
INTERVAL_NAMES = {1: "month", 3: "quarter", 12: "year"}
FX_START = {"EUR": 1.085, "GBP": 1.265}

SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
SEGMENT_SHARE = (0.62, 0.28, 0.10)

# country, currency index, weight, legal form
COUNTRIES = (
    ("US", 0, 34, "Inc."),
    ("CA", 0, 5, "Ltd."),
    ("AU", 0, 4, "Pty Ltd"),
    ("SG", 0, 2, "Pte. Ltd."),
    ("IN", 0, 3, "Pvt. Ltd."),
    ("BR", 0, 2, "Ltda."),
    ("JP", 0, 2, "K.K."),
    ("SE", 0, 2, "AB"),
    ("CH", 0, 2, "AG"),
    ("GB", 2, 13, "Ltd"),
    ("DE", 1, 10, "GmbH"),
    ("FR", 1, 6, "SAS"),
    ("NL", 1, 4, "B.V."),
    ("ES", 1, 3, "S.L."),
    ("IT", 1, 3, "S.r.l."),
    ("IE", 1, 2, "Ltd"),
    ("AT", 1, 1, "GmbH"),
    ("BE", 1, 1, "BV"),
    ("FI", 1, 1, "Oy"),
)
NAME_STEMS = (
    "Acme",
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Cyberdyne",
    "Aperture",
    "Blue Harbor",
    "Redwood",
    "Silverline",
    "Bright Path",
    "Evergreen",
    "Nimbus",
    "Quantum",
    "Polaris",
    "Summit",
    "Cedar",
    "Lumen",
    "Atlas",
    "Orbit",
    "Kestrel",
    "Falcon",
    "Meridian",
    "Nova",
    "Pioneer",
    "Zenith",
    "Cobalt",
    "Crimson",
    "Juniper",
    "Maple",
    "Obsidian",
    "Sterling",
    "Tidal",
    "Müller",
    "Lindqvist",
    "Brontë",
    "Ørsted",
    "Dvořák",
    "Saint-Étienne",
    "Açaí",
    "Fjord",
    "Halcyon",
    "Ironbark",
    "Larkspur",
    "Mistral",
    "Osprey",
    "Quill",
    "Riverbend",
    "Sable",
    "Tern",
    "Willow",
)
NAME_NOUNS = (
    "Analytics",
    "Labs",
    "Logistics",
    "Health",
    "Foods",
    "Robotics",
    "Software",
    "Studios",
    "Capital",
    "Systems",
    "Media",
    "Energy",
    "Retail",
    "Bikes",
    "Design",
    "Consulting",
    "Security",
    "Travel",
    "Cloud",
    "Data",
    "Works",
    "Partners",
    "Ventures",
    "Dynamics",
    "Networks",
    "Biotech",
    "Insurance",
    "Learning",
)
SALES_OWNERS = (
    "Ana Silva",
    "Ben Okafor",
    "Chloé Martin",
    "Dev Patel",
    "Emma Schultz",
    "Farid Haddad",
    "Grace Kim",
    "Hugo Larsen",
    "Isla Murphy",
    "Jonas Weber",
)

# Timestamp offsets used when rendering occurred_at: most events say Z, a few +00:00, a small share a
# local offset (same UTC instant, so the event stays in its UTC day's file).
OFFSET_SUFFIX = ("Z", "+00:00", "+01:00", "+02:00", "-05:00", "+05:30", "-07:00")
OFFSET_SECONDS = (0, 0, 3600, 7200, -18000, 19800, -25200)
OFFSET_SHARE = (0.88, 0.07, 0.015, 0.015, 0.01, 0.005, 0.005)

# Event type codes per stream; rendering maps them back to names.
ACCOUNT_CREATED, TRIAL_STARTED, SUB_STARTED, SUB_CHANGED, SUB_PAUSED, SUB_RESUMED, SUB_CANCELED = range(7)
SUBSCRIPTION_EVENT_TYPES = (
    "account_created",
    "trial_started",
    "subscription_started",
    "subscription_changed",
    "subscription_paused",
    "subscription_resumed",
    "subscription_canceled",
)
INVOICE_ISSUED, PAYMENT_SUCCEEDED, PAYMENT_FAILED, REFUND_ISSUED = range(4)
BILLING_EVENT_TYPES = ("invoice_issued", "payment_succeeded", "payment_failed", "refund_issued")
USAGE_METRICS = ("active_seats", "api_calls")
EVENT_TYPES = {
    "subscription_events": SUBSCRIPTION_EVENT_TYPES,
    "billing_events": BILLING_EVENT_TYPES,
    "usage_events": ("usage",),
}
EVENT_ID_PREFIX = {"subscription_events": "se_", "billing_events": "be_", "usage_events": "ue_"}

# Account status codes of the simulation.
NOT_CREATED, PROSPECT, TRIALING, ACTIVE, PAUSED, CHURNED = range(6)

HOUR = 3600
USAGE_BATCH_ROWS = 1_000_000
DAY = 86400
LATEST_ACTION_SECOND = DAY - 1200  # leaves room for a refund 10 minutes after a cancellation, same day

# ------------------------------------------------------------------------------------------- behaviour
# Monthly probabilities, by segment (SMB, Mid-Market, Enterprise) where it matters.
P_TRIAL_CONVERTS = np.array([0.6, 0.68, 0.75])
P_PAYMENT_FAILS = np.array([0.06, 0.04, 0.025])
P_FAILED_PAYMENT_RECOVERS = 0.65
P_AT_RISK = np.array([0.03, 0.02, 0.012])  # usage collapses this month ...
P_AT_RISK_CHURNS = 0.7  # ... and the account cancels the next month
P_SILENT_CHURN = np.array([0.008, 0.005, 0.003])  # cancels without a usage warning
P_REACTIVATES = 0.03
P_PROSPECT_STARTS, P_LAPSED_TRIAL_RETRIES = 0.08, 0.02
# A new account starts a trial, buys at once, or waits (and may start later as a prospect).
P_SIGNUP_TRIAL, P_SIGNUP_PAID = 0.45, 0.42
SIGNUP_GROWTH = 1.025  # sign-ups per month grow 2.5% a month
P_GROWTH_SPURT = 0.03
P_PAUSE, P_PAUSE_AT_RISK = 0.02, 0.06
P_PAUSE_ENDS_IN_CANCEL = 0.15
P_REFUND_GOODWILL = 0.015
INTERVAL_SHARE = np.array([[0.80, 0.10, 0.10], [0.55, 0.20, 0.25], [0.30, 0.20, 0.50]])  # month/quarter/year
SEATS_MEDIAN = np.array([3.0, 14.0, 60.0])
SEATS_SIGMA = np.array([0.6, 0.6, 0.6])
P_HAS_SALES_OWNER = np.array([0.6, 0.92, 1.0])
API_CALLS_PER_SEAT_DAY = 45.0  # median; lognormal across accounts
SEAT_WEEKEND_FACTOR, API_WEEKEND_FACTOR = 0.9, 0.3
