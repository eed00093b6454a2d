/* The revenue report's what-if simulator and its chart (inline SVG, redrawn as the sliders move). No
 * libraries, no network. Every other chart of the page is drawn in Python (transforms/report/charts.py).
 *
 * `project` is transforms/simulator.py's `project`, line for line: tests/integration/test_report.py runs
 * both on the same inputs and compares the numbers. Change both or neither. */
(function () {
  "use strict";

  const NS = "http://www.w3.org/2000/svg";
  const DATA = JSON.parse(document.getElementById("report-data").textContent);
  const C = DATA.colors;
  const NRR_WINDOW_MONTHS = 12;

  // ---------------------------------------------------------------------------------------- the model

  function project(a) {
    const newSales = a.new_customers * a.price;
    const rate = 1 - a.churn + a.expansion;
    const subscription = [a.starting_mrr];
    const book = [a.starting_mrr];
    for (let t = 0; t < a.horizon; t++) {
      subscription.push(subscription[subscription.length - 1] * rate + newSales);
      book.push(book[book.length - 1] * (1 - a.churn));
    }
    const oneTimeRevenue = [book[0]].concat(book.slice(1).map((b) => b + newSales * a.one_time_multiple));
    return {
      subscription: model(subscription, subscription, rate ** NRR_WINDOW_MONTHS),
      one_time: model(oneTimeRevenue, book, (1 - a.churn) ** NRR_WINDOW_MONTHS),
    };
  }

  function model(revenue, mrr, nrr12m) {
    let cumulative = 0;
    for (let t = 1; t < revenue.length; t++) cumulative += revenue[t];
    return {
      revenue: revenue,
      mrr: mrr,
      nrr_12m: nrr12m,
      revenue_at_horizon: revenue[revenue.length - 1],
      mrr_at_horizon: mrr[mrr.length - 1],
      cumulative_revenue: cumulative,
    };
  }

  // ---------------------------------------------------------------------------------------- formatting

  const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
  const usdCents = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });

  function money(v) {
    return Math.abs(v) >= 1000 ? usd.format(v) : usdCents.format(v);
  }

  function shortMoney(v) {
    const sign = v < 0 ? "−" : "";
    const a = Math.abs(v);
    if (a >= 1e6) return sign + "$" + (a / 1e6).toFixed(2) + "M";
    if (a >= 1e4) return sign + "$" + (a / 1e3).toFixed(0) + "k";
    if (a >= 1e3) return sign + "$" + (a / 1e3).toFixed(1) + "k";
    return sign + "$" + a.toFixed(0);
  }

  function pct(v, digits) {
    return (v * 100).toFixed(digits === undefined ? 1 : digits) + "%";
  }

  // ---------------------------------------------------------------------------------------- SVG helpers

  function el(tag, attrs, parent) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, attrs) {
    const node = el("text", Object.assign({ x: x, y: y, "font-size": 11, fill: C.text }, attrs || {}), parent);
    node.textContent = content;
    return node;
  }

  function tooltip(node, content) {
    el("title", {}, node).textContent = content;
    return node;
  }

  function niceTicks(min, max, count) {
    if (!(max > min)) max = min + 1;
    const raw = (max - min) / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / mag;
    const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
    const ticks = [];
    for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
    return ticks;
  }

  // Month and step labels are never drawn below this size (CSS px at the page's scale): labels that do not
  // fit their slot are thinned out (every 2nd, 3rd … month) or, where every one must show, slanted.
  const X_LABEL_PX = 10.5;

  function textWidth(svg, content, size) {
    const probe = text(svg, 0, 0, content, { "font-size": size, visibility: "hidden" });
    const width = probe.getComputedTextLength();
    probe.remove();
    return width;
  }

  // A frame with a y scale and x slots; returns helpers to place things.
  function frame(container, opts) {
    container.textContent = "";
    // Drawn at the container's own width, so text keeps its size (redrawn when the window resizes).
    const W = opts.width || Math.max(240, Math.round(container.clientWidth || 640));
    let H = opts.height || 260;
    const m = Object.assign({ top: 14, right: 12, bottom: 26, left: 62 }, opts.margin || {});
    const svg = el("svg", { role: "img", "aria-label": opts.label || "" }, container);
    const slots = opts.slots;
    const slotW = (W - m.left - m.right) / Math.max(slots, 1);
    const x = (i) => m.left + slotW * (i + 0.5);
    const labelSize = Math.max(opts.xLabelSize || X_LABEL_PX, 10);
    let every = 1, slant = false;
    if (opts.xLabels && opts.xLabels.length) {
      const widest = Math.max(...opts.xLabels.map((label) => textWidth(svg, label, labelSize))) + 6;
      every = Math.max(1, Math.ceil(opts.xLabels.length / (opts.maxXLabels || 12)));
      if (opts.allXLabels) {
        slant = widest > slotW;
      } else {
        every = Math.max(every, Math.ceil(widest / slotW));
      }
      if (slant) {
        const extra = Math.ceil(widest * Math.sin(Math.PI * 35 / 180));
        m.bottom += extra;
        H += extra;
      }
    }
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const ticks = niceTicks(opts.yMin, opts.yMax, opts.yTicks || 5);
    const lo = opts.yFloor !== undefined ? opts.yFloor : ticks[0];
    const hi = ticks[ticks.length - 1];
    const y = (v) => m.top + (H - m.top - m.bottom) * (1 - (v - lo) / (hi - lo || 1));
    for (const t of ticks) {
      if (t < lo) continue;
      el("line", { x1: m.left, x2: W - m.right, y1: y(t), y2: y(t), stroke: C.grid, "stroke-width": 1 }, svg);
      text(svg, m.left - 6, y(t) + 4, opts.yFormat(t), { "text-anchor": "end", "font-size": 10, fill: C.muted });
    }
    if (opts.xLabels) {
      opts.xLabels.forEach((label, i) => {
        if (i % every !== 0) return;
        const ly = H - m.bottom + 15;
        const attrs = { "text-anchor": slant ? "end" : "middle", "font-size": labelSize, fill: C.muted, class: "x-label" };
        if (slant) Object.assign(attrs, { transform: `rotate(-35 ${x(i).toFixed(1)} ${ly - 4})` });
        text(svg, x(i), ly, label, attrs);
      });
    }
    return { svg, x, y, slotW, W, H, m, lo, hi };
  }

  function polyline(f, values, attrs) {
    const points = [];
    const paths = [];
    values.forEach((v, i) => {
      if (v === null || v === undefined || !isFinite(v)) {
        if (points.length) paths.push(points.splice(0));
        return;
      }
      points.push(`${f.x(i).toFixed(1)},${f.y(v).toFixed(1)}`);
    });
    if (points.length) paths.push(points);
    return paths.map((p) => el("polyline", Object.assign({ points: p.join(" "), fill: "none", "stroke-linejoin": "round" }, attrs), f.svg));
  }

  function legend(f, items, y) {
    let x = f.m.left;
    for (const item of items) {
      if (item.line) {
        el("line", { x1: x, x2: x + 16, y1: y - 4, y2: y - 4, stroke: item.color, "stroke-width": item.width || 2, "stroke-dasharray": item.dash || "" }, f.svg);
      } else {
        el("rect", { x: x, y: y - 9, width: 10, height: 10, fill: item.color, rx: 2 }, f.svg);
      }
      const label = text(f.svg, x + (item.line ? 20 : 14), y, item.label, { "font-size": 10.5 });
      x += (item.line ? 26 : 20) + label.getComputedTextLength();
    }
  }

  // ---------------------------------------------------------------------------------------- the chart

  function drawLines(container, opts) {
    const all = opts.series.flatMap((s) => s.values).filter((v) => v !== null && isFinite(v));
    const lo = opts.zero ? Math.min(0, ...all) : Math.min(...all, opts.ref !== undefined ? opts.ref : Infinity);
    const hi = Math.max(...all, opts.ref !== undefined ? opts.ref : -Infinity);
    const f = frame(container, {
      slots: opts.labels.length, yMin: lo, yMax: hi, yFormat: opts.yFormat, height: opts.height || 240,
      xLabels: opts.labels, label: opts.label, margin: opts.legend ? { top: 26 } : {},
    });
    if (opts.ref !== undefined) el("line", { x1: f.m.left, x2: f.W - f.m.right, y1: f.y(opts.ref), y2: f.y(opts.ref), stroke: C.reference, "stroke-dasharray": "4 3" }, f.svg);
    for (const s of opts.series) {
      if (s.area) {
        const pts = s.values.map((v, i) => `${f.x(i).toFixed(1)},${f.y(v).toFixed(1)}`);
        el("polygon", { points: `${f.x(0)},${f.y(Math.max(f.lo, 0))} ${pts.join(" ")} ${f.x(s.values.length - 1)},${f.y(Math.max(f.lo, 0))}`, fill: s.color, opacity: 0.12 }, f.svg);
      }
      polyline(f, s.values, { stroke: s.color, "stroke-width": s.width || 2, "stroke-dasharray": s.dash || "" });
      if (s.dots) s.values.forEach((v, i) => {
        if (v !== null && isFinite(v)) tooltip(el("circle", { cx: f.x(i), cy: f.y(v), r: 2.5, fill: s.color }, f.svg), `${opts.labels[i]} · ${s.name}: ${opts.tipFormat(v)}`);
      });
    }
    if (opts.legend) legend(f, opts.series.map((s) => ({ label: s.name, color: s.color, line: true, dash: s.dash, width: s.width })), 12);
    return f;
  }

  // ---------------------------------------------------------------------------------------- simulator

  const SLIDERS = {
    // key: [input id, to state from slider value, to slider value from state, format]
    price: ["sim-price", (v) => v, (v) => v, (v) => money(v)],
    new_customers: ["sim-new", (v) => v, (v) => v, (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1))],
    churn: ["sim-churn", (v) => v / 100, (v) => v * 100, (v) => pct(v, 2)],
    expansion: ["sim-expansion", (v) => v / 100, (v) => v * 100, (v) => pct(v, 2)],
    horizon: ["sim-horizon", (v) => Math.round(v), (v) => v, (v) => `${v} months`],
    one_time_multiple: ["sim-multiple", (v) => v, (v) => v, (v) => `${v} × price`],
  };

  const defaults = DATA.simulator;
  const state = Object.assign({}, defaults);

  function sliderRanges(d) {
    const priceMax = niceCeil(Math.max(d.price * 2.5, 100));
    const newMax = Math.max(Math.ceil(d.new_customers * 3), 20);
    return {
      price: [0, priceMax, niceCeil(priceMax / 400)],
      new_customers: [0, newMax, 1],
      churn: [0, Math.max(25, Math.ceil(d.churn * 200)), 0.05],
      expansion: [0, Math.max(15, Math.ceil(d.expansion * 200)), 0.05],
      horizon: [12, 60, 1],
      one_time_multiple: [1, 36, 1],
    };
  }

  function niceCeil(v) {
    const mag = Math.pow(10, Math.floor(Math.log10(v)));
    for (const k of [1, 2, 2.5, 5, 10]) if (k * mag >= v) return k * mag;
    return 10 * mag;
  }

  function setupSimulator() {
    const ranges = sliderRanges(defaults);
    for (const [key, [id, toState, toSlider]] of Object.entries(SLIDERS)) {
      const input = document.getElementById(id);
      const [min, max, step] = ranges[key];
      input.min = String(min);
      input.max = String(max);
      input.step = String(step);
      input.value = String(toSlider(defaults[key]));
      input.addEventListener("input", () => {
        state[key] = toState(Number(input.value));
        renderSimulator();
      });
    }
    for (const radio of document.querySelectorAll('input[name="model"]')) {
      radio.checked = radio.value === state.model;
      radio.addEventListener("change", () => {
        if (radio.checked) { state.model = radio.value; renderSimulator(); }
      });
    }
    document.getElementById("sim-reset").addEventListener("click", () => {
      Object.assign(state, defaults);
      for (const [key, [id, , toSlider]] of Object.entries(SLIDERS)) document.getElementById(id).value = String(toSlider(defaults[key]));
      for (const radio of document.querySelectorAll('input[name="model"]')) radio.checked = radio.value === state.model;
      renderSimulator();
    });
    renderSimulator();
  }

  // The sentences under the simulator's figures. Each claim is worked out from amounts the page shows (or
  // names in the sentence), and amounts are compared as printed: two that print the same are "about as much".
  function compared(a, b) {
    if (money(a) === money(b)) return "about as much as";
    return a > b ? "more than" : "less than";
  }

  function count(v, unit) {
    const shown = Math.abs(v - Math.round(v)) < 0.05 ? String(Math.round(v)) : v.toFixed(1);
    return `${shown} ${unit}${shown === "1" ? "" : "s"}`;
  }

  function monthsPrice(m) {
    const months = count(m, "month");
    return months.endsWith("s") ? `${months}' price` : `${months}'s price`;
  }

  function percentChange(v) {
    const shown = pct(v, 1);
    return shown === "0.0%" ? "slightly" : shown;
  }

  // How far the NRR the page shows (one decimal) is from 100%, so the sentence and the figure agree.
  function nrrDistance(nrr) {
    const shown = Math.abs(Number((nrr * 100).toFixed(1)) - 100).toFixed(1);
    return shown === "0.0" ? "slightly" : `${shown}%`;
  }

  const RATE_EPSILON = 1e-12;

  function reading(s, p) {
    const rate = 1 - s.churn + s.expansion;
    const h = s.horizon;
    const sub = p.subscription, one = p.one_time;
    const newSales = s.new_customers * s.price;
    const sale = s.price * s.one_time_multiple;
    if (s.model === "one_time") return readingOneTime(s, p, rate, newSales, sale);

    let lead;
    if (rate > 1 + RATE_EPSILON) {
      lead = `NRR above 100%: expansion (${pct(s.expansion, 2)} a month) outweighs churn (${pct(s.churn, 2)}), so today's customers alone pay ${nrrDistance(sub.nrr_12m)} more a year from now, before any new customer.`;
    } else if (rate < 1 - RATE_EPSILON) {
      const level = newSales / (s.churn - s.expansion);
      lead = `NRR below 100%: churn (${pct(s.churn, 2)} a month) outweighs expansion (${pct(s.expansion, 2)}), so today's customers pay ${nrrDistance(sub.nrr_12m)} less a year from now.`;
      if (money(level) === money(0)) {
        lead += ` With no new sales, MRR shrinks towards ${money(0)}.`;
      } else {
        const heading = money(s.starting_mrr) === money(level) ? "stays near" : s.starting_mrr < level ? "rises towards" : "falls towards";
        lead += ` New customers add ${money(newSales)} of MRR a month, so MRR ${heading} ${money(level)}, where churn takes as much as they bring, and no further however long you wait: less churn or more upsell lifts that level.`;
      }
    } else {
      lead = s.churn === 0
        ? "No churn and no expansion: today's customers pay the same a year from now (NRR 100%)"
        : `NRR at 100%: expansion (${pct(s.expansion, 2)} a month) makes up exactly for churn, so today's customers pay the same a year from now`;
      lead += newSales > 0
        ? `, and MRR grows by each month's new customers (${money(newSales)} a month).`
        : `, and with no new sales MRR stays at ${money(s.starting_mrr)}.`;
    }

    const subH = sub.revenue_at_horizon, oneH = one.revenue_at_horizon;
    let versus;
    if (money(subH) === money(oneH)) {
      versus = `, about as much as one-time sales (${money(oneH)}).`;
    } else if (subH > oneH) {
      const ratio = oneH > 0 ? subH / oneH : Infinity;
      if (!isFinite(ratio)) versus = `, while one-time sales bring nothing that month.`;
      else if (ratio >= 1.95) versus = ` (${ratio.toFixed(1)}× the ${money(oneH)} of one-time sales).`;
      else versus = ` (${percentChange(ratio - 1)} more than the ${money(oneH)} of one-time sales).`;
    } else {
      // one-time − subscription = new sales × (multiple − Σ r^k) − old book × (r^h − (1 − churn)^h)
      const oneNew = newSales * s.one_time_multiple;
      const subNew = subH - s.starting_mrr * Math.pow(rate, h);
      const bookGap = s.starting_mrr * (Math.pow(rate, h) - Math.pow(1 - s.churn, h));
      const subscribers = h === 1 ? "that month's new subscribers pay" : `the subscribers won over ${h} months pay by then`;
      versus = `, less than the ${money(oneH)} of one-time sales: that month's new customers pay ${money(oneNew)} up front (${monthsPrice(s.one_time_multiple)} each), ${compared(oneNew, subNew)} the ${money(subNew)} a month ${subscribers}`;
      versus += money(bookGap) === money(0) ? "." : `, even with the ${money(bookGap)} a month that expansion adds to the subscriptions already sold.`;
    }
    return `${lead} In month ${h} the subscription brings ${money(subH)} a month${versus}`;
  }

  function readingOneTime(s, p, rate, newSales, sale) {
    const h = s.horizon;
    const one = p.one_time;
    const start = one.revenue[0], end = one.revenue_at_horizon, book = one.mrr_at_horizon;
    const newRevenue = newSales * s.one_time_multiple;
    let text = `One-time sales: each new customer pays ${money(sale)} once (${monthsPrice(s.one_time_multiple)}), so revenue does not build up.`;
    const path = money(start) === money(end) ? `It stays at ${money(end)} a month up to month ${h}` : `It goes from ${money(start)} a month today to ${money(end)} in month ${h}`;
    let why;
    if (money(s.starting_mrr) === money(0)) why = `each month's new sales bring ${money(newRevenue)} and nothing recurs`;
    else if (s.churn === 0) why = `with no churn the subscriptions already sold keep paying ${money(book)}, and each month's new sales bring ${money(newRevenue)}`;
    else why = `the subscriptions already sold run off at ${pct(s.churn, 2)} a month (${money(book)} left) and each month's new sales bring ${money(newRevenue)}`;
    text += ` ${path}: ${why}.`;
    if (s.price > 0) {
      if (rate >= 1 - RATE_EPSILON) {
        text += s.churn === 0 && s.expansion === 0
          ? " With no churn a subscriber pays for ever: in time a subscription collects more than any one-time price."
          : " With expansion at or above churn a subscriber's payments never shrink: in time a subscription collects more than any one-time price.";
      } else {
        const lifetimeValue = s.price / (s.churn - s.expansion);
        const growing = s.expansion > 0 ? `, growing ${pct(s.expansion, 2)} a month,` : "";
        text += ` At ${pct(s.churn, 2)} churn a subscriber stays ${count(1 / s.churn, "month")} on average and${growing} pays about ${money(lifetimeValue)} in all, ${compared(lifetimeValue, sale)} one sale's ${money(sale)}.`;
      }
    }
    return text;
  }

  function renderSimulator() {
    const s = state;
    const p = project(s);
    const chosen = s.model === "one_time" ? p.one_time : p.subscription;
    for (const [key, [id, , , format]] of Object.entries(SLIDERS)) document.getElementById(id + "-out").textContent = format(s[key]);
    for (const node of document.querySelectorAll(".sim-h")) node.textContent = String(s.horizon);
    for (const node of document.querySelectorAll(".sim-model-name")) node.textContent = s.model === "one_time" ? "(one-time)" : "(subscription)";
    document.getElementById("sim-mrr").textContent = money(chosen.mrr_at_horizon);
    document.getElementById("sim-nrr").textContent = pct(chosen.nrr_12m, 1);
    document.getElementById("sim-revenue").textContent = `${money(p.subscription.revenue_at_horizon)} · ${money(p.one_time.revenue_at_horizon)}`;
    document.getElementById("sim-cumulative").textContent = money(chosen.cumulative_revenue);
    document.getElementById("sim-reading").textContent = reading(s, p);
    const months = p.subscription.revenue.map((_, t) => String(t));
    const selected = s.model === "one_time" ? "one_time" : "subscription";
    drawLines(document.getElementById("chart-sim"), {
      labels: months, zero: true, yFormat: shortMoney, tipFormat: money, legend: true, height: 260,
      label: "Projected monthly revenue: subscription and one-time sales",
      series: [
        { name: "Subscription", values: p.subscription.revenue, color: C.line, width: selected === "subscription" ? 3 : 1.5, dots: true },
        { name: "One-time sales", values: p.one_time.revenue, color: C.contraction, width: selected === "one_time" ? 3 : 1.5, dash: "6 4", dots: true },
      ],
    });
    const f = document.querySelector("#chart-sim svg");
    f.setAttribute("data-selected", selected);
  }

  // ---------------------------------------------------------------------------------------- page

  setupSimulator();
  let resizing = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(renderSimulator, 150);
  });
  window.revenueReport = { project, reading: (s) => reading(s, project(s)), money, state, defaults, render: renderSimulator, data: DATA };
})();
