// Charts of the insights page, drawn by Chart.js (vendored: chart.umd.min.js) from the figures
// the page carries in #insights-data. Every word arrives in that data (config.yml insights:).
"use strict";
(function () {
  const holder = document.getElementById("insights-data");
  if (!holder || typeof Chart === "undefined") return;
  const data = JSON.parse(holder.dataset.insights);
  // solved / escalated / left / went on, then the rest: the same colours as `report funnel --plot`.
  const COLOURS = ["#16a34a", "#dc2626", "#f59e0b", "#93c5fd", "#2563eb", "#7c3aed", "#0891b2", "#db2777"];
  const common = { responsive: true, maintainAspectRatio: false, animation: false };
  const whole = { ticks: { precision: 0 }, beginAtZero: true };

  function bar(values, name, colour) {
    return { label: name, data: values, backgroundColor: colour };
  }

  const builders = {
    days(d) {
      const [all, contained, escalated] = d.days.series;
      return {
        type: "bar",
        data: {
          labels: d.days.labels,
          datasets: [bar(all.values, all.name, "#93c5fd"), bar(contained.values, contained.name, COLOURS[0]), bar(escalated.values, escalated.name, COLOURS[1])],
        },
        options: { ...common, scales: { y: whole } },
      };
    },
    reasons(d) {
      return { type: "bar", data: { labels: d.reasons.labels, datasets: [bar(d.reasons.values, d.reasons.name, COLOURS[1])] },
               options: { ...common, indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: whole } } };
    },
    outcomes(d) {
      return { type: "doughnut", data: { labels: d.outcomes.labels, datasets: [{ label: d.outcomes.name, data: d.outcomes.values, backgroundColor: COLOURS }] },
               options: { ...common, plugins: { legend: { position: "right" } } } };
    },
    priorities(d) {
      return { type: "bar", data: { labels: d.priorities.labels, datasets: [bar(d.priorities.values, d.priorities.name, COLOURS[4])] },
               options: { ...common, plugins: { legend: { display: false } }, scales: { y: whole } } };
    },
    funnel(d, canvas) {
      const funnel = d.funnels.find((f) => f.flow === canvas.dataset.flow);
      canvas.parentElement.style.height = 60 + 28 * funnel.labels.length + "px";
      return {
        type: "bar",
        data: { labels: funnel.labels, datasets: funnel.series.map((s, i) => bar(s.values, s.name, COLOURS[i])) },
        options: { ...common, indexAxis: "y", scales: { x: { ...whole, stacked: true }, y: { stacked: true } } },
      };
    },
  };

  for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
    const build = builders[canvas.dataset.chart];
    if (!build) continue;
    new Chart(canvas, build(data, canvas));
    canvas.dataset.drawn = "true";
  }
})();
