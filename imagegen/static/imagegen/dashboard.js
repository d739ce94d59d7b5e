// The admin dashboard's charts, drawn with Chart.js from the JSON the page carries (imagegen/dashboard.py).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("dashboard-data").textContent);
  const palette = ["#417690", "#e07a1f", "#2e7d32", "#8e24aa", "#c62828", "#00838f", "#9e9e9e"];
  const color = (index) => palette[index % palette.length];
  const days = data.days.map((day) => day.slice(5)); // MM-DD
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;

  function stacked(id, series, label) {
    new Chart(document.getElementById(id), {
      type: "bar",
      data: {
        labels: days,
        datasets: series.map((entry, index) => ({ label: entry.name, data: entry.values, backgroundColor: color(index) })),
      },
      options: {
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: label } } },
        plugins: { legend: { position: "bottom" } },
      },
    });
  }

  for (const dimension of ["model", "vendor", "client"]) {
    stacked("images-" + dimension, data.per_day[dimension].images, "images");
    stacked("cost-" + dimension, data.per_day[dimension].cost, data.currency);
  }

  const vendors = data.vendors.map((vendor) => vendor.name);
  const bars = (values, label, index) => ({ label: label, data: values, backgroundColor: color(index) });
  new Chart(document.getElementById("vendor-errors"), {
    type: "bar",
    data: {
      labels: vendors,
      datasets: [
        bars(data.vendors.map((v) => 100 * v.day.error_rate), "last day", 0),
        bars(data.vendors.map((v) => 100 * v.month.error_rate), "last " + data.days.length + " days", 1),
      ],
    },
    options: { scales: { y: { beginAtZero: true, max: 100, title: { display: true, text: "% of calls failed" } } } },
  });
  new Chart(document.getElementById("vendor-latency"), {
    type: "bar",
    data: {
      labels: vendors,
      datasets: [
        bars(data.vendors.map((v) => v.day.p50), "p50, last day", 0),
        bars(data.vendors.map((v) => v.day.p95), "p95, last day", 1),
        bars(data.vendors.map((v) => v.month.p50), "p50, last " + data.days.length + " days", 2),
        bars(data.vendors.map((v) => v.month.p95), "p95, last " + data.days.length + " days", 3),
      ],
    },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: "seconds" } } } },
  });
  const keyColors = { "active": "#2e7d32", "suspect": "#ffb300", "cooling down": "#ef6c00", "auto-disabled": "#c62828", "disabled by the operator": "#757575" };
  new Chart(document.getElementById("key-states"), {
    type: "doughnut",
    data: {
      labels: data.keys.map((row) => row.state),
      datasets: [{ data: data.keys.map((row) => row.count), backgroundColor: data.keys.map((row) => keyColors[row.state]) }],
    },
    options: { plugins: { legend: { position: "right" } } },
  });
})();
