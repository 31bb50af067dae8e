"""Take it away (issue 30): every table as CSV and every figure as PNG or SVG, each with its caption and the
link that reopens the view.

- Tables: `table(rows, caption, key)` draws the st.dataframe and a CSV download beside it; the file starts
  with the caption and the link as `#` comment lines (`csv_text`, pure, tested).
- Figures: a constant script, installed once per browser session, puts "PNG · SVG" in a corner of every
  Plotly chart (bottom right, top right on a phone; shown on hover where there is a mouse, as Plotly's bar).
  The SVG is the chart's own drawing (Plotly's svg layers, cloned) with the caption under it (the caption
  element that follows the chart on the page) and the page's link; the PNG is that SVG drawn on a canvas at
  twice the size. Made in the browser: nothing is sent to the server, no image library is needed.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode, urlsplit

import streamlit as st

from ui.style import PHONE_MAX_PX

INSTALLED = "_takeaway.js"


def csv_text(rows, caption: str = "", link: str = "") -> str:
    """rows (a list of dicts, or of sequences) -> CSV text, after `# caption` and `# link` comment lines."""
    out = io.StringIO()
    for line in (caption, link):
        for part in str(line or "").splitlines():
            if part.strip():
                out.write("# " + part.strip() + "\n")
    rows = list(rows or [])
    w = csv.writer(out, lineterminator="\n")
    if rows and isinstance(rows[0], Mapping):
        keys = list(dict.fromkeys(k for r in rows for k in r))
        w.writerow(keys)
        for r in rows:
            w.writerow([_cell(r.get(k, "")) for k in keys])
    else:
        for r in rows:
            w.writerow([_cell(v) for v in (r if isinstance(r, Sequence) and not isinstance(r, str) else [r])])
    return out.getvalue()


def _cell(v) -> str:
    s = "" if v is None else str(v)
    return "'" + s if s[:1] in ("=", "+", "-", "@") and not _number(s) else s  # no formulas in a spreadsheet


def _number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def link() -> str:
    """The link that reopens this view: the page's address with its current query string."""
    try:
        parts = urlsplit(st.context.url or "")
        base = f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else parts.path
    except Exception:  # noqa: BLE001 - no request context (a test): the query alone still reopens the view
        base = ""
    query = urlencode({k: st.query_params[k] for k in st.query_params})
    return base + ("?" + query if query else "")


def table(rows, caption: str = "", key: str = "table", **dataframe_kwargs) -> None:
    """st.dataframe(rows) and, under it, its CSV with the caption and the link."""
    st.dataframe(rows, **dataframe_kwargs)
    st.download_button("⬇ CSV", csv_text(rows, caption, link()).encode("utf-8"), file_name=f"{key}.csv",
                       mime="text/csv", key=f"{key}.csv", type="tertiary",
                       help="This table as a CSV file, with its caption and the link that reopens this view.")


# st.html's sanitizer drops a script with "<" right before "/", "!" or a word character: none below
TAKEAWAY_JS = r"""
(() => {
  if (window.__rnnTakeAway) return;
  window.__rnnTakeAway = true;
  const L = String.fromCharCode(60);  // the less-than sign (see above)
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/[<]/g, '&lt;').replace(/>/g, '&gt;');
  const captionOf = (chart) => {
    let el = chart.closest('[data-testid="stElementContainer"]');
    for (let k = 0; el && k < 3; k++) {
      el = el.nextElementSibling;
      if (!el || el.querySelector('.stPlotlyChart')) break;
      const c = el.querySelector('[data-testid="stCaptionContainer"]');
      if (c) return c.innerText.trim();
    }
    return '';
  };
  const wrap = (text, n) => {
    const out = []; let line = '';
    for (const w of text.split(/\s+/)) {
      const next = (line + ' ' + w).trim();
      if (next.length > n && line) { out.push(line); line = w; } else { line = next; }
    }
    if (line) out.push(line);
    return out;
  };
  const svgOf = (chart) => {
    const gd = chart.querySelector('.js-plotly-plot');
    if (!gd) return null;
    const layers = Array.from(gd.querySelectorAll('svg.main-svg'));
    if (!layers.length) return null;
    const w = Math.round(parseFloat(layers[0].getAttribute('width')) || gd.clientWidth);
    const h = Math.round(parseFloat(layers[0].getAttribute('height')) || gd.clientHeight);
    const lines = wrap(captionOf(chart), Math.max(40, Math.floor(w / 7)));
    lines.push(window.location.href);
    const extra = 12 + 18 * lines.length;
    const ser = new XMLSerializer();
    const inner = (s) => Array.from(s.childNodes).map((n) => ser.serializeToString(n)).join('');
    const body = layers.map((s) => L + 'g>' + inner(s) + L + '/g>').join('');
    const text = lines.map((l, i) => L + 'text x="12" y="' + (h + 18 * (i + 1)) + '" font-family="sans-serif" '
      + 'font-size="13" fill="' + (i === lines.length - 1 ? '#1f5fbf' : '#333') + '">' + esc(l) + L + '/text>');
    const H = h + extra;
    const svg = L + 'svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="' + w
      + '" height="' + H + '" viewBox="0 0 ' + w + ' ' + H + '">' + L + 'rect width="100%" height="100%" fill="white"/>'
      + body + text.join('') + L + '/svg>';
    return {svg, w, h: h + extra};
  };
  const save = (name, blob) => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob); a.download = name; document.body.appendChild(a); a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 2000);
  };
  const nameOf = (chart) => {
    const keyed = chart.closest('[class*="st-key-"]');
    const k = Array.from(keyed ? keyed.classList : []).find((c) => c.startsWith('st-key-'));
    const page = (window.location.pathname.split('/').filter(Boolean).pop() || 'home');
    return 'rnn-playground-' + page + (k ? '-' + k.slice(7) : '');
  };
  const take = (chart, fmt) => {
    const got = svgOf(chart);
    if (!got) return;
    const name = nameOf(chart);
    if (fmt === 'SVG') { save(name + '.svg', new Blob([got.svg], {type: 'image/svg+xml'})); return; }
    const img = new Image();
    img.onload = () => {
      const c = document.createElement('canvas'); c.width = got.w * 2; c.height = got.h * 2;
      const ctx = c.getContext('2d'); ctx.scale(2, 2); ctx.drawImage(img, 0, 0, got.w, got.h);
      c.toBlob((b) => save(name + '.png', b), 'image/png');
    };
    img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(got.svg);
  };
  const decorate = () => {
    document.querySelectorAll('.stPlotlyChart').forEach((chart) => {
      // over the chart's bottom right corner (legends sit at the left), so the chart keeps its own height
      if (chart.querySelector(':scope > .rnn-take')) return;
      if (getComputedStyle(chart).position === 'static') chart.style.position = 'relative';
      const bar = document.createElement('div');
      bar.className = 'rnn-take';

      bar.appendChild(document.createTextNode('Take away:'));
      for (const fmt of ['PNG', 'SVG']) {
        const b = document.createElement('button');
        b.type = 'button'; b.textContent = fmt; b.className = 'rnn-take-' + fmt.toLowerCase();
        b.title = 'This figure as ' + fmt + ', with its caption and the link that reopens this view';
        b.style.cssText = 'border:none;background:none;color:#1f5fbf;cursor:pointer;padding:0;font-size:12px';
        b.addEventListener('click', () => take(chart, fmt));
        bar.appendChild(b);
      }
      chart.appendChild(bar);
    });
  };
  const style = document.createElement('style');  // bottom right; on a phone top right (its mode bar is hidden)
  style.textContent = '.rnn-take{position:absolute;right:4px;bottom:2px;z-index:2;display:flex;gap:.5rem;'
    + 'font-size:12px;color:#666;background:rgba(255,255,255,.85);padding:0 4px;border-radius:4px}'
    + '@media (max-width: %d px){.rnn-take{top:0;bottom:auto}}'.replace(' px', 'px')
    + '@media (hover: hover){.rnn-take{opacity:0;transition:opacity .2s}'  // shown on hover, as the mode bar
    + '.stPlotlyChart:hover .rnn-take,.rnn-take:focus-within{opacity:1}}';
  document.head.appendChild(style);
  let queued = false;
  new MutationObserver(() => {
    if (queued) return; queued = true;
    requestAnimationFrame(() => { queued = false; decorate(); });
  }).observe(document.body, {childList: true, subtree: true});
  decorate();
})();
"""


TAKEAWAY_JS = TAKEAWAY_JS.replace("%d", str(PHONE_MAX_PX))


def install() -> None:
    """Once per browser session (ui.classmode.apply, every page): the figures' PNG and SVG."""
    if st.session_state.get(INSTALLED):
        return
    st.session_state[INSTALLED] = True
    st.sidebar.html(f"<script>{TAKEAWAY_JS}</script>", unsafe_allow_javascript=True)  # no gap in the page
