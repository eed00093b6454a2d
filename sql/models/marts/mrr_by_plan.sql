with calendar as (
    select month from {{ ref('calendar') }}
),

subscription_mrr as (
    select month, plan_id, mrr from {{ ref('subscription_mrr_monthly') }}
),

plans as (
    select plan_id, plan_name, tier_rank from {{ source('raw', 'plans') }}
),

plan_month as (
    select
        month,
        plan_id,
        sum(mrr) as mrr,
        count(*) as subscriptions
    from subscription_mrr
    group by month, plan_id
),

-- an account paying for the plan through several subscriptions is one customer of it
plan_customers as (
    select month, plan_id, count(*) as customers
    from {{ ref('account_plan_months') }}
    group by month, plan_id
),

-- every catalog plan, and any other plan someone paid for in a reported month
all_plans as (
    select plan_id from plans
    union
    select plan_id from plan_month
)

select
    calendar.month,
    all_plans.plan_id,
    plans.plan_name,
    plans.tier_rank,
    coalesce(plan_month.mrr, 0)::decimal(18, 2) as mrr,
    coalesce(plan_customers.customers, 0) as customers,
    coalesce(plan_month.subscriptions, 0) as subscriptions
from calendar
cross join all_plans
left join plans using (plan_id)
left join plan_month on plan_month.month = calendar.month and plan_month.plan_id = all_plans.plan_id
left join plan_customers
    on plan_customers.month = calendar.month and plan_customers.plan_id = all_plans.plan_id
order by calendar.month, plans.tier_rank nulls last, all_plans.plan_id
