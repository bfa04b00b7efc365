// The operator console: polls /admin/v1/console every 2 s and renders it.
// Every value goes in as text (never as markup).
"use strict";

const DATA = "/admin/v1/console";
const EVERY_MS = 2000;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function badge(text, kind) {
  return el("span", { class: "badge " + (kind || text) }, text);
}

function fill(table, rows, columns, empty) {
  const body = document.querySelector("#" + table + " tbody");
  body.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: columns, class: "empty" }, empty))]));
}

function number(n) {
  return n === null || n === undefined ? "–" : Number(n).toLocaleString("en");
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "estimating…";
  const s = Math.round(seconds);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}

function when(ms) {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

function renderInstallation(data) {
  const i = data.installation;
  const parts = [el("strong", {}, i.installation), badge(i.role)];
  if (i.epoch !== undefined) parts.push(el("span", { class: "muted" }, "epoch " + i.epoch));
  if (i.role === "follower") parts.push(el("span", { class: "muted" }, i.leader ? "leader: " + i.leader : "no leader named yet"));
  parts.push(i.ready ? badge("ready") : badge("catching up", "building"));
  document.getElementById("installation").replaceChildren(...parts);
  document.getElementById("viewer").textContent = data.viewer || "";
  const stopped = document.getElementById("stopped");
  stopped.hidden = !data.stopped;
  stopped.textContent = data.stopped ? "Stopped: " + data.stopped : "";
}

function renderProjections(data) {
  const rows = [];
  for (const p of data.projections) {
    for (const v of p.versions) {
      const id = p.name + "@" + v.version;
      const state = v.live ? "live" : v.state;
      let build = "";
      if (v.progress !== null && v.progress !== undefined) {
        const percent = Math.floor(v.progress * 1000) / 10;
        build = el("span", { class: "build" },
          el("progress", { max: 1, value: v.progress, "aria-label": id + " build progress" }),
          el("span", { class: "eta" }, percent.toFixed(1) + " % · " +
            (v.rate ? number(Math.round(v.rate)) + " events/s · ETA " : "ETA ") + duration(v.eta_seconds)));
      }
      rows.push(el("tr", { "data-version": id, "data-state": state },
        el("td", {}, el("strong", {}, id), v.version === p.current ? el("span", { class: "muted" }, " (this build's)") : null),
        el("td", {}, badge(state)),
        el("td", { class: "num" }, number(v.applied) + " / " + number(v.total)),
        el("td", { class: "num" }, number(v.lag)),
        el("td", { class: "num" }, v.lag_seconds === null || v.lag_seconds === undefined ? "–" : v.lag_seconds.toFixed(1)),
        el("td", { class: "num" }, v.quarantined ? badge(number(v.quarantined), "bad") : "0"),
        el("td", {}, build)));
    }
  }
  fill("projections", rows, 7, "no projection versions");
}

function renderLog(data) {
  document.getElementById("log-describe").textContent = data.log.describe;
  fill("log", data.log.topics.map((t) => el("tr", {},
    el("td", {}, t.name),
    el("td", { class: "num" }, t.end_offsets.length),
    el("td", { class: "num" }, number(t.records)),
    el("td", { class: "muted" }, t.end_offsets.join(" · ")))), 4, "no topics");
}

function renderSwitches(data) {
  fill("switches", data.switches.map((s) => el("tr", {},
    el("td", { class: "num" }, s.epoch),
    el("td", {}, s.leader),
    el("td", {}, s.fenced_by === s.leader ? s.fenced_by + " (itself: the previous leader was gone)" : s.fenced_by),
    el("td", {}, when(s.at_ms)),
    el("td", {}, s.hold ? s.hold.held_requests + " held, longest " + s.hold.longest_hold_ms.toFixed(1) + " ms · drain " +
      s.hold.drain_ms + " ms, hand-over " + s.hold.hand_over_ms + " ms, take-over " + s.hold.take_over_ms + " ms, total " +
      s.hold.total_ms + " ms" : el("span", { class: "muted" }, "not reported here")))), 5,
    data.switches_complete ? "no switch yet: the lead never changed hands" : "reading the log…");
}

function renderQuarantine(data) {
  fill("quarantine", data.quarantine.map((q) => el("tr", {},
    el("td", {}, q.projection + "@" + q.version),
    el("td", {}, q.topic + "/" + q.partition + "@" + q.offset),
    el("td", {}, q.event_type || "undecodable"),
    el("td", {}, q.reason))), 4, "none");
}

async function refresh() {
  const updated = document.getElementById("updated");
  try {
    const response = await fetch(DATA, { credentials: "same-origin", cache: "no-store" });
    if (response.status === 401 || response.status === 403) {
      // The session ended (expired, logged out, or no longer an admin):
      // the page itself now answers with the login form.
      window.location.reload();
      return;
    }
    if (!response.ok) {
      updated.textContent = "refresh failed: HTTP " + response.status + " (retrying)";
      return;
    }
    const data = await response.json();
    renderInstallation(data);
    renderProjections(data);
    renderLog(data);
    renderSwitches(data);
    renderQuarantine(data);
    updated.textContent = "updated " + when(data.now_ms) + " · refreshes every " + EVERY_MS / 1000 + " s";
  } catch (e) {
    updated.textContent = "refresh failed: " + e.message + " (retrying)";
  } finally {
    window.setTimeout(refresh, EVERY_MS);
  }
}

document.addEventListener("DOMContentLoaded", refresh);
