// probekit monitor dashboard: plain JavaScript, no dependencies, served by the monitor.
// Everything that comes from a target (names, outputs, targets) reaches the page through
// textContent or setAttribute, never as HTML.
;(() => {
  const STATES = ['critical', 'warning', 'unknown', 'passing']
  // Severity, lowest first: a copy of STATE_RANK in src/monitor/types.ts, the one ranking
  // of the monitor (test/monitor/types.test.ts checks that the two agree).
  const RANK = { passing: 0, unknown: 1, warning: 2, critical: 3 }
  const MARK = { passing: '✔', warning: '▲', critical: '✖', unknown: '?' }
  const SVG_NS = 'http://www.w3.org/2000/svg'

  // heartbeatMs: how often the event stream says something when nothing changes (the monitor
  // sends it with the snapshot; 15 s unless it says otherwise).
  const model = { states: new Map(), index: 0, connected: false, heartbeatMs: 15_000 }
  const filters = { q: '', state: '', node: '' }
  const rows = new Map()
  let route = { view: 'overview' }
  let renderQueued = false
  let podRefreshTimer

  const $ = (id) => document.getElementById(id)

  /**
   * Text as it is shown: the Unicode controls that reorder a line (bidi overrides, isolates
   * and marks) become visible \u escapes, as in the terminal, so what a target or a silence
   * says cannot make its line read in another order than it was written.
   */
  function shown(value) {
    return String(value).replace(
      /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    )
  }

  /** An element with text children (strings become text nodes, never HTML). */
  function el(tag, props, ...children) {
    const node = document.createElement(tag)
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value === undefined || value === null || value === false) continue
        if (key === 'className') node.className = value
        else if (key === 'text') node.textContent = shown(value)
        else node.setAttribute(key, value === true ? '' : String(value))
      }
    }
    for (const child of children) {
      if (child === undefined || child === null || child === false) continue
      node.append(typeof child === 'string' ? document.createTextNode(shown(child)) : child)
    }
    return node
  }

  function svgEl(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag)
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value))
    for (const child of children) node.append(child)
    return node
  }

  /** A state shown as an icon plus a word, coloured: never colour alone. */
  function badge(state, big) {
    return el(
      'span',
      { className: `badge s-${state}${big ? ' big' : ''}`, 'data-state': state },
      el('span', { className: 'icon', 'aria-hidden': 'true', text: MARK[state] }),
      state,
    )
  }

  function age(iso) {
    return span(Date.now() - Date.parse(iso))
  }

  /** What is left until `iso`: "1h 59m left", or "ended". */
  function left(iso) {
    const ms = Date.parse(iso) - Date.now()
    return ms > 0 ? `${span(ms)} left` : 'ended'
  }

  function span(ms) {
    if (!Number.isFinite(ms)) return '—'
    const s = Math.max(0, Math.floor(ms / 1000))
    if (s < 60) return `${s}s`
    const m = Math.floor(s / 60)
    if (m < 60) return `${m}m ${s % 60}s`
    const h = Math.floor(m / 60)
    if (h < 24) return `${h}h ${m % 60}m`
    return `${Math.floor(h / 24)}d ${h % 24}h`
  }

  /** A relative time ("for 3m 12s", "5s ago") that ticks; the absolute time is its title. */
  function timeEl(iso, prefix, suffix) {
    const t = el('time', {
      datetime: iso,
      title: new Date(iso).toLocaleString(),
      'data-prefix': prefix || '',
      'data-suffix': suffix || '',
    })
    t.textContent = `${prefix || ''}${age(iso)}${suffix || ''}`
    timeWatcher.observe(t)
    return t
  }

  /** The time left until `iso`, ticking like timeEl; the absolute time is its title. */
  function untilEl(iso) {
    const t = el('time', {
      datetime: iso,
      title: new Date(iso).toLocaleString(),
      'data-until': '',
      className: 'left',
      text: left(iso),
    })
    timeWatcher.observe(t)
    return t
  }

  // Relative times tick once a second, but only those on screen: rewriting every one of a
  // large fleet's thousands made the browser lay the whole table out again each second
  // (a tenth of a second of a busy main thread in every second with 2,000 rows, and
  // scrolling stuttered). One that scrolls into view is brought up to date at once.
  const timesInView = new Set()
  const timeWatcher = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting) {
        timesInView.add(entry.target)
        tick(entry.target)
      } else timesInView.delete(entry.target)
    }
  })

  function tick(t) {
    const iso = t.getAttribute('datetime')
    const text =
      t.dataset.until !== undefined ? left(iso) : `${t.dataset.prefix || ''}${age(iso)}${t.dataset.suffix || ''}`
    if (t.textContent !== text) t.textContent = text
  }

  const DAY_MS = 86_400_000
  /**
   * Within this many days a certificate's end is highlighted: the check's own
   * cert_expiry_warning (`sslWarningDays`), or the monitor's default when it does not say.
   */
  const CERT_WARN_DAYS = 14

  /**
   * A TLS check's certificate, from `sslEarliestExpiry` (Unix seconds) and `sslSubject`
   * when the monitor sends it: "12 days left (2026-12-16), CN=…", and whether it is near.
   */
  function certificate(s) {
    if (typeof s.sslEarliestExpiry !== 'number') return undefined
    const at = s.sslEarliestExpiry * 1000
    const ms = at - Date.now()
    const date = new Date(at).toISOString().slice(0, 10)
    const days = (n) => `${n} day${n === 1 ? '' : 's'}`
    let text
    if (ms <= 0) {
      const ago = Math.floor(-ms / DAY_MS)
      text = ago === 0 ? `expired today (${date})` : `expired ${days(ago)} ago (${date})`
    } else {
      const n = Math.floor(ms / DAY_MS)
      text = n === 0 ? `less than a day left (${date})` : `${days(n)} left (${date})`
    }
    if (typeof s.sslSubject === 'string' && s.sslSubject) text += `, ${s.sslSubject}`
    const warnDays = typeof s.sslWarningDays === 'number' ? s.sslWarningDays : CERT_WARN_DAYS
    return { text, near: ms < warnDays * DAY_MS, expired: ms <= 0 }
  }

  /** "until 14:00 (1h 59m left), by ana: OPS-1234" */
  function silenceTitle(mark) {
    return `silenced until ${new Date(mark.until).toLocaleString()}${mark.author ? ` by ${mark.author}` : ''}: ${mark.comment}`
  }

  function tailLines(text, lines) {
    const all = String(text || '')
      .replace(/\s+$/, '')
      .split('\n')
    return all.slice(-lines).join('\n')
  }

  function podHref(pod) {
    return `#/pod/${encodeURIComponent(pod)}`
  }

  function checkPath(s) {
    return [s.node, s.pod, s.check].map(encodeURIComponent).join('/')
  }

  /**
   * The check that speaks for a pod: the worst state; among equals p2's health_check (the
   * pod's own status endpoint), then the one that changed most recently.
   */
  function worst(checks) {
    let w = checks[0]
    for (const c of checks) {
      if (RANK[c.state] !== RANK[w.state]) {
        if (RANK[c.state] > RANK[w.state]) w = c
        continue
      }
      if (w.check === 'health_check') continue
      if (c.check === 'health_check' || c.since > w.since) w = c
    }
    return w
  }

  function compareText(a, b) {
    return a < b ? -1 : a > b ? 1 : 0
  }

  // ---------- the fleet overview ----------

  function groups() {
    const byKey = new Map()
    for (const s of model.states.values()) {
      const key = `${s.pod}\u0000${s.node}`
      let g = byKey.get(key)
      if (!g) byKey.set(key, (g = { key, pod: s.pod, node: s.node, checks: [] }))
      g.checks.push(s)
    }
    const list = [...byKey.values()]
    for (const g of list) {
      g.checks.sort((a, b) =>
        a.check === 'health_check' ? -1 : b.check === 'health_check' ? 1 : compareText(a.check, b.check),
      )
    }
    return list.sort((a, b) => compareText(a.pod, b.pod) || compareText(a.node, b.node))
  }

  function matches(g) {
    if (filters.node && g.node !== filters.node) return false
    if (filters.state === 'failing' && !g.checks.some((c) => c.state !== 'passing')) return false
    if (filters.state && filters.state !== 'failing' && !g.checks.some((c) => c.state === filters.state)) return false
    if (!filters.q) return true
    const hay = [g.pod, g.node, ...g.checks.flatMap((c) => [c.check, c.output, c.target])].join('\n').toLowerCase()
    return filters.q
      .toLowerCase()
      .split(/\s+/)
      .filter(Boolean)
      .every((word) => hay.includes(word))
  }

  function makeRow(g) {
    const link = el('a', { className: 'pod-link', href: podHref(g.pod) }, g.pod)
    const cells = {
      state: el('td', { 'data-label': 'State' }),
      pod: el('td', { 'data-label': 'Pod' }, link),
      node: el('td', { 'data-label': 'Node', text: g.node }),
      checks: el('td', { 'data-label': 'Checks' }),
      output: el('td', { 'data-label': 'Output' }),
      since: el('td', { 'data-label': 'Since', className: 'since' }),
    }
    const tr = el('tr', { 'data-pod': g.pod, 'data-node': g.node }, ...Object.values(cells))
    return { tr, cells, signature: '' }
  }

  function updateRow(row, g) {
    const w = worst(g.checks)
    // Cheap to compare for thousands of rows: what the row shows, with the output's tail.
    let signature = ''
    for (const c of g.checks)
      signature += `${c.check}|${c.state}|${c.since}|${c.output.length}|${c.output.slice(-80)}|${c.silenced ? `${c.silenced.id}|${c.silenced.until}` : ''}|${c.sslEarliestExpiry ?? ''}\n`
    if (signature === row.signature) return false
    const changed = row.signature !== '' && row.tr.dataset.state !== w.state
    row.signature = signature
    row.tr.dataset.state = w.state
    row.cells.state.replaceChildren(badge(w.state))
    row.cells.checks.replaceChildren(
      el(
        'ul',
        { className: 'checks-list' },
        ...g.checks.map((c) => {
          const cert = certificate(c)
          return el(
            'li',
            { title: `${c.check}: ${c.state}${c.silenced ? `, ${silenceTitle(c.silenced)}` : ''}` },
            el('span', { className: `mark-${c.state}`, 'aria-hidden': 'true', text: `${MARK[c.state]} ` }),
            c.check,
            el('span', { className: 'visually-hidden', text: ` (${c.state})` }),
            c.silenced ? el('span', { className: 'silenced-mark', text: 'silenced' }) : null,
            cert?.near
              ? el('span', {
                  className: `cert-mark${cert.expired ? ' cert-expired' : ''}`,
                  text: `certificate: ${cert.text.replace(/ \(.*$/, '')}`,
                })
              : null,
          )
        }),
      ),
    )
    const output = tailLines(w.output, 3)
    row.cells.output.replaceChildren(
      output ? el('pre', { className: 'output-snippet', text: output }) : el('span', { className: 'muted', text: '—' }),
    )
    row.cells.since.replaceChildren(timeEl(w.since, 'for '))
    return changed
  }

  function renderOverview() {
    const list = groups()
    const body = $('fleet-body')
    const seen = new Set()
    let shown = 0
    for (const g of list) {
      seen.add(g.key)
      let row = rows.get(g.key)
      if (!row) rows.set(g.key, (row = makeRow(g)))
      if (updateRow(row, g)) flash(row.tr)
      row.tr.hidden = !matches(g)
      if (!row.tr.hidden) shown++
    }
    for (const [key, row] of rows) {
      if (!seen.has(key)) {
        row.tr.remove()
        rows.delete(key)
      }
    }
    // Rows keep their places (sorted by name), so a focused link is not moved under the
    // keyboard; only new pods make the body reorder.
    const order = list.map((g) => rows.get(g.key).tr)
    const current = [...body.children]
    if (order.length !== current.length || order.some((tr, i) => tr !== current[i])) body.append(...order)

    renderSummary()
    renderNodeOptions(list)
    renderPodOptions(list)
    renderMaintenance()
    const total = list.length
    const nodeCount = new Set(list.map((g) => g.node)).size
    const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`
    $('result-count').textContent =
      total === 0
        ? ''
        : shown === total
          ? `${plural(new Set(list.map((g) => g.pod)).size, 'pod')} on ${plural(nodeCount, 'node')}`
          : `${shown} of ${total} shown`
    const empty = $('empty')
    empty.hidden = shown > 0
    empty.textContent =
      total === 0
        ? model.connected
          ? 'No checks yet. Give the monitor a manifest to watch.'
          : 'Connecting to the monitor…'
        : 'Nothing matches the filter.'
  }

  function renderSummary() {
    const counts = { critical: 0, warning: 0, unknown: 0, passing: 0 }
    for (const s of model.states.values()) counts[s.state]++
    const box = $('summary')
    if (!box.querySelector('button')) {
      for (const state of STATES) {
        const button = el(
          'button',
          { type: 'button', className: `s-${state}`, 'data-state': state, 'aria-pressed': 'false' },
          el('span', { 'aria-hidden': 'true', text: MARK[state] }),
          el('span', { className: 'count', text: '0' }),
          ` ${state}`,
        )
        button.addEventListener('click', () => {
          setStateFilter(filters.state === state ? '' : state)
        })
        box.append(button)
      }
    }
    for (const button of box.querySelectorAll('button')) {
      const state = button.dataset.state
      button.querySelector('.count').textContent = String(counts[state])
      button.setAttribute('aria-pressed', String(filters.state === state))
      button.title = `Show only pods with a ${state} check`
    }
    document.title = counts.critical > 0 ? `(${counts.critical} critical) probekit monitor` : 'probekit monitor'
  }

  function renderNodeOptions(list) {
    const select = $('node-filter')
    const nodes = [...new Set(list.map((g) => g.node))].sort(compareText)
    const have = [...select.options].slice(1).map((o) => o.value)
    if (have.length === nodes.length && have.every((n, i) => n === nodes[i])) return
    select.replaceChildren(
      el('option', { value: '', text: 'all nodes' }),
      ...nodes.map((n) => el('option', { value: n, text: n })),
    )
    select.value = nodes.includes(filters.node) ? filters.node : ''
  }

  /** The pod names the silence form suggests. */
  function renderPodOptions(list) {
    const box = $('silence-pods')
    const pods = [...new Set(list.map((g) => g.pod))]
    if (box.dataset.signature === pods.join('\n')) return
    box.dataset.signature = pods.join('\n')
    box.replaceChildren(...pods.map((p) => el('option', { value: p })))
  }

  function setStateFilter(state) {
    filters.state = state
    $('state-filter').value = state
    scheduleRender()
  }

  function flash(node) {
    node.classList.remove('flash')
    void node.offsetWidth
    node.classList.add('flash')
  }

  // ---------- a pod's page ----------

  function podChecks(pod) {
    return [...model.states.values()]
      .filter((s) => s.pod === pod)
      .sort(
        (a, b) =>
          compareText(a.node, b.node) ||
          (a.check === 'health_check' ? -1 : b.check === 'health_check' ? 1 : compareText(a.check, b.check)),
      )
  }

  function renderPodPage(pod) {
    const view = $('pod-view')
    const checks = podChecks(pod)
    const title = el('h1', { id: 'pod-title', tabindex: '-1' }, pod)
    const head = el('div', { className: 'pod-head' }, title, checks.length ? badge(worst(checks).state, true) : null)
    const list = el('div', { className: 'checks', id: 'pod-checks' })
    for (const s of checks) list.append(checkCard(s))
    const transitions = el(
      'section',
      { 'aria-labelledby': 'transitions-title' },
      el('h2', { id: 'transitions-title', className: 'section-title' }, 'Recent transitions'),
      el('div', { id: 'pod-transitions' }, el('p', { className: 'muted', text: 'Loading…' })),
    )
    view.replaceChildren(
      el('a', { className: 'back', href: '#/' }, '← All pods'),
      head,
      checks.length
        ? list
        : el('p', {
            className: 'empty',
            text: model.connected ? 'The monitor has no checks for this pod.' : 'Loading…',
          }),
      transitions,
    )
    view.dataset.signature = checks.map((c) => c.id).join('\n')
    document.title = `${pod} · probekit monitor`
    loadPodDetails(pod)
  }

  function checkCard(s) {
    const card = el('article', { className: 'check', 'data-id': s.id, 'aria-labelledby': `t-${cssId(s.id)}` })
    card.append(
      el(
        'div',
        { className: 'check-head' },
        el('h2', { id: `t-${cssId(s.id)}` }, s.check, el('span', { className: 'node', text: ` on ${s.node}` })),
        el('span', { className: 'state-slot' }),
      ),
      el('dl', { className: 'facts' }),
      el(
        'div',
        { className: 'charts' },
        el(
          'section',
          { className: 'uptime' },
          el('h3', { text: 'State timeline' }),
          el('div', { className: 'uptime-body' }, el('p', { className: 'muted', text: 'Loading…' })),
        ),
        el(
          'section',
          { className: 'latency' },
          el('h3', { text: 'Latency' }),
          el('div', { className: 'latency-body' }),
        ),
      ),
      el('h3', { text: 'Latest output' }),
      el('pre', { className: 'output', tabindex: '0', 'aria-label': `Latest output of ${s.check} on ${s.node}` }),
    )
    updateCard(card, s)
    return card
  }

  function cssId(id) {
    let out = ''
    for (const ch of id) out += /[A-Za-z0-9_-]/.test(ch) ? ch : `_${ch.codePointAt(0).toString(16)}`
    return out
  }

  function updateCard(card, s) {
    card
      .querySelector('.state-slot')
      .replaceChildren(
        badge(s.state, true),
        ...(s.silenced
          ? [el('span', { className: 'silenced-mark', title: silenceTitle(s.silenced), text: 'silenced' })]
          : []),
      )
    const facts = [
      ['Target', s.target, 'mono'],
      ['Kind', s.kind],
      ['In this state', timeEl(s.since, 'for ')],
      ['Last checked', s.checkedAt ? timeEl(s.checkedAt, '', ' ago') : 'never'],
      ['Duration', s.durationMs === undefined ? '—' : `${Math.round(s.durationMs)} ms`],
    ]
    if (s.httpStatus !== undefined) facts.push(['HTTP status', String(s.httpStatus)])
    const cert = certificate(s)
    if (cert)
      facts.push([
        'Certificate',
        cert.text,
        cert.expired ? 'cert-near cert-expired' : cert.near ? 'cert-near' : undefined,
      ])
    if (s.silenced)
      facts.push([
        'Silenced',
        el(
          'span',
          null,
          `until ${new Date(s.silenced.until).toLocaleString()} (`,
          untilEl(s.silenced.until),
          `)${s.silenced.author ? ` by ${s.silenced.author}` : ''}: ${s.silenced.comment}`,
        ),
        'silenced-fact',
      ])
    facts.push(['Streak', `${s.successes} passed, ${s.failures} failed`])
    card
      .querySelector('.facts')
      .replaceChildren(
        ...facts.map(([label, value, cls]) =>
          el('div', null, el('dt', { text: label }), el('dd', { className: cls || undefined }, value)),
        ),
      )
    const pre = card.querySelector('pre.output')
    pre.textContent = s.output ? shown(s.output) : '(no output)'
  }

  async function getJson(path) {
    const res = await apiFetch(path, { headers: { accept: 'application/json' } })
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`
      try {
        message = (await res.json()).error || message
      } catch {}
      throw new Error(message)
    }
    return res.json()
  }

  // ---------- the token of a monitor started with --auth-token-file ----------
  // Sent as "Authorization: Bearer" on every request, never in a cookie: no request a
  // browser makes on its own (from another site's page) carries it. It lives in this tab's
  // sessionStorage only, and goes when the tab closes.

  const TOKEN_KEY = 'probekit-monitor-token'
  let token = ''
  try {
    token = sessionStorage.getItem(TOKEN_KEY) || ''
  } catch {}
  let asking

  /** fetch with the tab's token; a 401 asks for a token (once for every waiting request) and tries again. */
  async function apiFetch(path, init) {
    for (;;) {
      const sent = token
      const headers = { ...(init?.headers || {}) }
      if (sent) headers.authorization = `Bearer ${sent}`
      const res = await fetch(path, { ...init, headers, cache: 'no-store' })
      if (res.status !== 401) return res
      res.body?.cancel().catch(() => {})
      if (token === sent) await askForToken(sent ? 'The monitor did not accept that token; enter another one.' : '')
    }
  }

  function askForToken(problem) {
    if (!asking) {
      asking = new Promise((resolve) => {
        setConnection('offline', 'needs a token')
        $('overview-view').hidden = true
        $('pod-view').hidden = true
        $('token-view').hidden = false
        $('token-error').textContent = problem
        const input = $('token-input')
        input.value = ''
        input.focus()
        const form = $('token-form')
        form.onsubmit = (event) => {
          event.preventDefault()
          const value = input.value.trim()
          if (!value) return
          token = value
          try {
            sessionStorage.setItem(TOKEN_KEY, value)
          } catch {}
          form.onsubmit = null
          $('token-view').hidden = true
          asking = undefined
          applyRoute(false)
          renderSilences()
          resolve()
        }
      })
    }
    return asking
  }

  async function loadPodDetails(pod) {
    clearTimeout(podRefreshTimer)
    const checks = podChecks(pod)
    await Promise.all([
      ...checks.map(async (s) => {
        try {
          const { history } = await getJson(`/v1/checks/${checkPath(s)}/history?limit=2000`)
          if (!isCurrentPod(pod)) return
          const card = findCard(s.id)
          if (card) renderHistory(card, s, history)
        } catch (error) {
          const card = findCard(s.id)
          if (card)
            card
              .querySelector('.uptime-body')
              .replaceChildren(el('p', { className: 'muted', text: `History unavailable: ${error.message}` }))
        }
      }),
      (async () => {
        try {
          const { transitions } = await getJson(`/v1/transitions?pod=${encodeURIComponent(pod)}&limit=50`)
          if (isCurrentPod(pod)) renderTransitions(transitions)
        } catch (error) {
          const box = $('pod-transitions')
          if (box)
            box.replaceChildren(el('p', { className: 'muted', text: `Transitions unavailable: ${error.message}` }))
        }
      })(),
    ])
    if (isCurrentPod(pod)) podRefreshTimer = setTimeout(() => loadPodDetails(pod), 15_000)
  }

  function isCurrentPod(pod) {
    return route.view === 'pod' && route.pod === pod
  }

  function findCard(id) {
    for (const card of document.querySelectorAll('#pod-checks .check')) if (card.dataset.id === id) return card
    return undefined
  }

  function renderHistory(card, s, history) {
    const points = [...history].sort((a, b) => compareText(a.at, b.at)).slice(-90)
    const uptime = card.querySelector('.uptime-body')
    const latency = card.querySelector('.latency-body')
    if (points.length === 0) {
      uptime.replaceChildren(el('p', { className: 'muted', text: 'No history yet.' }))
      latency.replaceChildren(el('p', { className: 'muted', text: 'No measurements yet.' }))
      return
    }
    const count = points.reduce((n, p) => n + p.count, 0)
    const passed = points.reduce((n, p) => n + p.passed, 0)
    const pct = count ? ((passed / count) * 100).toFixed(count === passed ? 0 : 1) : '0'
    // A fixed strip of 90 slots, the latest at the right, so the bars keep their size
    // however much history there is.
    const slots = 90
    const step = 6
    const bars = svgEl('svg', {
      viewBox: `0 0 ${slots * step} 32`,
      role: 'img',
      'aria-label': `${pct}% of ${count} checks of ${s.check} passed since ${new Date(points[0].at).toLocaleString()}`,
    })
    const offset = slots - points.length
    for (let i = 0; i < offset; i++) {
      bars.append(svgEl('rect', { x: i * step, y: 0, width: step - 1.5, height: 32, rx: 1, class: 'empty' }))
    }
    points.forEach((p, i) => {
      const title = svgEl('title')
      title.textContent = `${new Date(p.at).toLocaleString()}: ${p.state}, ${p.passed} of ${p.count} passed`
      bars.append(
        svgEl('rect', { x: (offset + i) * step, y: 0, width: step - 1.5, height: 32, rx: 1, class: p.state }, title),
      )
    })
    uptime.replaceChildren(
      bars,
      el(
        'p',
        { className: 'chart-note' },
        el('span', { text: `${pct}% passed (${passed}/${count})` }),
        el('span', { text: `since ${new Date(points[0].at).toLocaleString()}` }),
      ),
    )

    const measured = points.filter((p) => typeof p.durationMs === 'number')
    if (measured.length === 0) {
      latency.replaceChildren(el('p', { className: 'muted', text: 'No durations recorded.' }))
      return
    }
    const max = Math.max(...measured.map((p) => p.durationMs), 1)
    const w = 300
    const h = 80
    const x = (i) => (measured.length === 1 ? w / 2 : (i / (measured.length - 1)) * w)
    const y = (v) => h - (v / (max * 1.1)) * h
    const line = measured.map((p, i) => `${x(i).toFixed(1)},${y(p.durationMs).toFixed(1)}`).join(' ')
    const last = measured[measured.length - 1].durationMs
    const chart = svgEl(
      'svg',
      {
        viewBox: `0 0 ${w} ${h}`,
        preserveAspectRatio: 'none',
        role: 'img',
        'aria-label': `Latency of ${s.check}: latest ${Math.round(last)} ms, highest ${Math.round(max)} ms over ${measured.length} points`,
      },
      svgEl('line', { class: 'grid', x1: 0, x2: w, y1: y(max), y2: y(max) }),
      svgEl('line', { class: 'grid', x1: 0, x2: w, y1: h - 0.5, y2: h - 0.5 }),
      measured.length > 1 ? svgEl('polygon', { class: 'area', points: `0,${h} ${line} ${w},${h}` }) : '',
      measured.length > 1 ? svgEl('polyline', { class: 'line', points: line }) : '',
      // The latest point as a dot, so a single minute of history still shows.
      svgEl('circle', {
        class: 'last',
        cx: x(measured.length - 1),
        cy: y(last),
        r: 3.5,
      }),
    )
    latency.replaceChildren(
      chart,
      el(
        'p',
        { className: 'chart-note' },
        el('span', { text: `latest ${Math.round(last)} ms` }),
        el('span', { text: `highest ${Math.round(max)} ms` }),
      ),
    )
  }

  function renderTransitions(transitions) {
    const box = $('pod-transitions')
    if (!box) return
    if (transitions.length === 0) {
      box.replaceChildren(el('p', { className: 'muted', text: 'No transitions recorded.' }))
      return
    }
    const sorted = [...transitions].sort((a, b) => compareText(b.at, a.at))
    box.replaceChildren(
      el(
        'div',
        { className: 'table-wrap' },
        el(
          'table',
          { className: 'transitions' },
          el(
            'thead',
            null,
            el(
              'tr',
              null,
              el('th', { scope: 'col', text: 'When' }),
              el('th', { scope: 'col', text: 'Check' }),
              el('th', { scope: 'col', text: 'Change' }),
              el('th', { scope: 'col', text: 'Output' }),
            ),
          ),
          el(
            'tbody',
            null,
            ...sorted.map((t) =>
              el(
                'tr',
                null,
                el('td', { className: 'since' }, timeEl(t.at, '', ' ago')),
                el('td', null, `${t.check} on ${t.node}`),
                el(
                  'td',
                  { className: 'change' },
                  badge(t.from),
                  el('span', { className: 'arrow', 'aria-label': 'to', text: '→' }),
                  badge(t.to),
                ),
                el('td', { className: 'out', text: tailLines(t.output, 4) || '—' }),
              ),
            ),
          ),
        ),
      ),
    )
  }

  function updatePodPage() {
    const checks = podChecks(route.pod)
    const view = $('pod-view')
    if (view.dataset.signature !== checks.map((c) => c.id).join('\n')) {
      const hadFocus = view.contains(document.activeElement)
      renderPodPage(route.pod)
      if (hadFocus) $('pod-title').focus()
      return
    }
    const head = view.querySelector('.pod-head')
    if (head && checks.length) {
      const old = head.querySelector('.badge')
      const next = badge(worst(checks).state, true)
      if (old) old.replaceWith(next)
      else head.append(next)
    }
    for (const s of checks) {
      const card = findCard(s.id)
      const signature = JSON.stringify([s.state, s.output, s.since, s.checkedAt, s.silenced, s.sslEarliestExpiry])
      if (card && card.dataset.signature !== signature) {
        card.dataset.signature = signature
        updateCard(card, s)
      }
    }
  }

  // ---------- silences, and the token that writes them ----------
  // GET /v1/silences is read every 10 s (and at once after a change made here); a change in
  // what is silenced re-reads the checks, whose `silenced` marks the monitor sets.

  const silenceModel = { list: undefined, tokenRequired: undefined, error: '', signature: '', active: '' }
  let silenceTimer

  function writable() {
    return silenceModel.tokenRequired === false || (silenceModel.tokenRequired === true && token !== '')
  }

  async function loadSilences() {
    clearTimeout(silenceTimer)
    try {
      const answer = await getJson('/v1/silences')
      silenceModel.list = Array.isArray(answer.silences) ? answer.silences : []
      silenceModel.tokenRequired = answer.tokenRequired === true
      silenceModel.error = ''
    } catch (error) {
      silenceModel.error = `Silences unavailable: ${error.message}`
    }
    renderSilences()
    const active = silenceModel.list
      ? current(silenceModel.list)
          .map((s) => `${s.id}|${s.endsAt}`)
          .join('\n')
      : ''
    if (active !== silenceModel.active) {
      silenceModel.active = active
      await refreshStates()
    }
    silenceTimer = setTimeout(loadSilences, 10_000)
  }

  /** Re-reads every check's state (their silence marks) after the silences changed. */
  async function refreshStates() {
    try {
      const states = await getJson('/v1/checks')
      if (!Array.isArray(states)) return
      for (const s of states) model.states.set(s.id, s)
      scheduleRender()
    } catch {}
  }

  /** Silences not ended yet (active or upcoming), the soonest end first. */
  function current(list) {
    const now = Date.now()
    return list.filter((s) => Date.parse(s.endsAt) > now).sort((a, b) => Date.parse(a.endsAt) - Date.parse(b.endsAt))
  }

  function renderSilences() {
    const listBox = $('silence-list')
    const list = silenceModel.list
    const shown = list ? current(list) : []
    const signature = JSON.stringify([shown, silenceModel.error, writable(), silenceModel.tokenRequired])
    if (signature !== silenceModel.signature) {
      silenceModel.signature = signature
      if (silenceModel.error && !list)
        listBox.replaceChildren(el('p', { className: 'muted', text: silenceModel.error }))
      else if (list) {
        listBox.replaceChildren(
          shown.length
            ? el('ul', { className: 'silence-list' }, ...shown.map(silenceItem))
            : el('p', { className: 'muted', text: 'No silence is active or coming up.' }),
        )
        const ended = list.length - shown.length
        $('silence-count').textContent =
          `${shown.length} active or upcoming` +
          (ended ? `; ${ended} ended in the past week (probekit silence list shows them)` : '')
      }
      renderWriteAccess()
    }
    renderMaintenance()
  }

  function matcherText(s) {
    return `pod ${s.pod} · ${s.node ? `node ${s.node}` : 'every node'} · ${s.check ? `check ${s.check}` : 'every check'}`
  }

  function silenceItem(s) {
    const upcoming = Date.parse(s.startsAt) > Date.now()
    const item = el(
      'li',
      { className: 'silence', 'data-id': s.id },
      el(
        'p',
        { className: 'silence-head' },
        el('span', { className: 'silenced-mark', text: upcoming ? 'upcoming' : 'silenced' }),
        ' ',
        el('strong', { className: 'silence-matchers', text: matcherText(s) }),
      ),
      el('p', { className: 'silence-comment', text: s.comment }),
      el(
        'p',
        { className: 'silence-meta muted' },
        `by ${s.author || 'someone unnamed'} · from ${new Date(s.startsAt).toLocaleString()} until ${new Date(s.endsAt).toLocaleString()} · `,
        untilEl(s.endsAt),
      ),
    )
    if (writable()) {
      const button = el('button', {
        type: 'button',
        className: 'expire',
        'aria-label': `Expire the silence of ${matcherText(s)}`,
        text: 'Expire',
      })
      button.addEventListener('click', () => expireSilence(s, button))
      item.append(button)
    }
    return item
  }

  /** The manifests' maintenance windows in effect now, as the checks' marks tell them. */
  function renderMaintenance() {
    const byWindow = new Map()
    for (const s of model.states.values()) {
      if (s.silenced?.id !== 'maintenance') continue
      const key = `${s.silenced.comment}\u0000${s.silenced.until}`
      let group = byWindow.get(key)
      if (!group) byWindow.set(key, (group = { mark: s.silenced, checks: [] }))
      group.checks.push(`${s.pod}/${s.check} on ${s.node}`)
    }
    const groups = [...byWindow.values()]
    const box = $('maintenance-list')
    const signature = JSON.stringify(groups)
    if (box.dataset.signature === signature) return
    box.dataset.signature = signature
    if (groups.length === 0) {
      box.replaceChildren()
      return
    }
    box.replaceChildren(
      el('h3', { text: 'Maintenance windows in effect (from manifests)' }),
      el(
        'ul',
        { className: 'silence-list' },
        ...groups.map((g) =>
          el(
            'li',
            { className: 'silence maintenance' },
            el('p', { className: 'silence-comment', text: g.mark.comment }),
            el(
              'p',
              { className: 'silence-meta muted' },
              `until ${new Date(g.mark.until).toLocaleString()} · `,
              untilEl(g.mark.until),
            ),
            el('p', { className: 'silence-meta', text: g.checks.sort(compareText).join(', ') }),
          ),
        ),
      ),
    )
  }

  /** The read-only note with the token field, or what writes will use. */
  function renderWriteAccess() {
    const box = $('silence-token')
    $('silence-fields').disabled = !writable()
    if (silenceModel.tokenRequired === undefined) {
      box.replaceChildren()
      return
    }
    if (!silenceModel.tokenRequired) {
      box.replaceChildren(
        el('p', {
          className: 'muted',
          text: 'This monitor has no --auth-token-file: it takes writes without a token.',
        }),
      )
      return
    }
    if (token) {
      const forget = el('button', { type: 'button', className: 'link', text: 'Forget the token' })
      forget.addEventListener('click', () => {
        setToken('')
        renderSilences()
      })
      box.replaceChildren(el('p', { className: 'muted' }, 'Adding and expiring use the token this tab holds. ', forget))
      return
    }
    const input = el('input', { id: 'write-token', type: 'password', autocomplete: 'off', spellcheck: 'false' })
    const form = el(
      'form',
      { id: 'write-token-form', className: 'token-form' },
      el('label', { className: 'field grow' }, el('span', { text: 'Token' }), input),
      el('button', { type: 'submit', text: 'Use this token' }),
    )
    form.addEventListener('submit', (event) => {
      event.preventDefault()
      const value = input.value.trim()
      if (!value) return
      setToken(value)
      showSilenceMessage('', '')
      renderSilences()
    })
    box.replaceChildren(
      el(
        'p',
        { className: 'read-only' },
        el('strong', { text: 'Read-only. ' }),
        "Adding or expiring a silence needs one of the tokens in the monitor's --auth-token-file (or run probekit silence with --token-file). Enter it here; this tab keeps it until you close it, and sends it only to this monitor.",
      ),
      form,
    )
  }

  function setToken(value) {
    token = value
    try {
      if (value) sessionStorage.setItem(TOKEN_KEY, value)
      else sessionStorage.removeItem(TOKEN_KEY)
    } catch {}
  }

  function showSilenceMessage(kind, text) {
    const box = $('silence-message')
    box.dataset.kind = kind
    box.textContent = text
  }

  /**
   * A write of the silences API with the tab's token, outside apiFetch: a refused write
   * says why here, beside the form, instead of taking the page over with the token form.
   */
  async function writeSilences(path, init) {
    const headers = { accept: 'application/json', ...(init.headers || {}) }
    if (token) headers.authorization = `Bearer ${token}`
    let res
    try {
      res = await fetch(path, { ...init, headers, cache: 'no-store' })
    } catch (error) {
      throw new Error(`the monitor cannot be reached (${error.message})`)
    }
    let answer = {}
    try {
      answer = await res.json()
    } catch {}
    if (res.ok) return answer
    const said = typeof answer.error === 'string' ? answer.error : `${res.status} ${res.statusText}`
    if (res.status === 401) {
      const sent = token
      if (sent) setToken('')
      renderSilences()
      throw new Error(
        sent
          ? `Refused (401): the monitor does not accept that token; enter another one. The monitor said: ${said}`
          : `Refused (401): this needs a token; enter one above. The monitor said: ${said}`,
      )
    }
    if (res.status === 403) throw new Error(`Refused (403): ${said}`)
    if (res.status === 400) throw new Error(`Not added (400): ${said}`)
    throw new Error(`The monitor answered ${res.status}: ${said}`)
  }

  async function addSilence(event) {
    event.preventDefault()
    const value = (id) => $(id).value.trim()
    const body = { pod: value('silence-pod'), comment: value('silence-comment') }
    if (!body.pod) return showSilenceMessage('error', 'Say which pod: Pod is required.')
    if (!body.comment) return showSilenceMessage('error', 'Say why: Comment is required (a ticket, the maintenance).')
    for (const [key, id] of [
      ['node', 'silence-node'],
      ['check', 'silence-check'],
      ['author', 'silence-author'],
    ])
      if (value(id)) body[key] = value(id)
    const until = value('silence-until')
    if (until) {
      const at = new Date(until)
      if (Number.isNaN(at.getTime())) return showSilenceMessage('error', 'Until is not a time.')
      body.until = at.toISOString()
    } else if (value('silence-for')) body.for = value('silence-for')
    else return showSilenceMessage('error', 'Say how long: For (e.g. 2h) or Until (a time).')
    const button = $('silence-form').querySelector('button[type="submit"]')
    button.disabled = true
    try {
      const { silence } = await writeSilences('/v1/silences', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      showSilenceMessage('ok', `Silenced ${matcherText(silence)} until ${new Date(silence.endsAt).toLocaleString()}.`)
      $('silence-comment').value = ''
      await loadSilences()
    } catch (error) {
      showSilenceMessage('error', error.message)
    } finally {
      button.disabled = false
    }
  }

  async function expireSilence(s, button) {
    button.disabled = true
    try {
      await writeSilences(`/v1/silences/${encodeURIComponent(s.id)}/expire`, { method: 'POST' })
      showSilenceMessage('ok', `Expired the silence of ${matcherText(s)}.`)
      await loadSilences()
    } catch (error) {
      button.disabled = false
      showSilenceMessage('error', error.message)
    }
  }

  // ---------- routing, rendering, live updates ----------

  function parseRoute() {
    const hash = location.hash || '#/'
    const match = /^#\/pod\/(.+)$/.exec(hash)
    if (match) {
      try {
        return { view: 'pod', pod: decodeURIComponent(match[1]) }
      } catch {}
    }
    return { view: 'overview' }
  }

  function applyRoute(moveFocus) {
    route = parseRoute()
    if (asking) return // the token form stays until a token is given
    const overview = route.view === 'overview'
    $('overview-view').hidden = !overview
    $('pod-view').hidden = overview
    clearTimeout(podRefreshTimer)
    if (overview) {
      renderOverview()
      if (moveFocus) $('overview-title').setAttribute('tabindex', '-1')
      if (moveFocus) $('overview-title').focus()
    } else {
      renderPodPage(route.pod)
      if (moveFocus) $('pod-title').focus()
    }
  }

  function scheduleRender() {
    if (renderQueued) return
    renderQueued = true
    requestAnimationFrame(() => {
      renderQueued = false
      if (route.view === 'overview') renderOverview()
      else updatePodPage()
    })
  }

  function setConnection(state, text) {
    const box = $('connection')
    box.dataset.state = state
    $('connection-text').textContent = text
  }

  let announceTimer
  function announce(text) {
    clearTimeout(announceTimer)
    announceTimer = setTimeout(() => {
      $('announcer').textContent = text
    }, 250)
  }

  const EVENTS = {
    snapshot(data) {
      model.states = new Map(data.states.map((s) => [s.id, s]))
      model.index = data.index
      if (data.heartbeatMs > 0) model.heartbeatMs = data.heartbeatMs
      model.connected = true
      setConnection('live', 'live')
      if (route.view === 'pod' && !$('pod-checks')) renderPodPage(route.pod)
      scheduleRender()
    },
    states(data) {
      for (const s of data.states) model.states.set(s.id, s)
      model.index = data.index
      scheduleRender()
    },
    change({ transition, state }) {
      model.states.set(state.id, state)
      announce(`${transition.pod} on ${transition.node}: ${transition.check} is now ${transition.to}`)
      if (route.view === 'pod' && route.pod === transition.pod) {
        clearTimeout(podRefreshTimer)
        podRefreshTimer = setTimeout(() => loadPodDetails(route.pod), 300)
      }
      scheduleRender()
    },
  }

  /**
   * The server-sent events of /v1/events, read from a fetch stream rather than through
   * EventSource: EventSource cannot send the Authorization header. Reconnects after 2 s.
   */
  async function connect() {
    for (;;) {
      // A monitor that hangs (stopped, swapping, behind a dead network path) keeps the
      // connection open and sends nothing: without this watchdog the page would say "live"
      // over data that no longer moves. The stream carries a comment every heartbeatMs.
      const stalled = new AbortController()
      let watchdog
      const alive = () => {
        clearTimeout(watchdog)
        watchdog = setTimeout(() => stalled.abort(), model.heartbeatMs * 2 + 5000)
      }
      try {
        alive()
        const res = await apiFetch('/v1/events', { headers: { accept: 'text/event-stream' }, signal: stalled.signal })
        if (!res.ok || !res.body) throw new Error(`${res.status}`)
        setConnection('live', 'live')
        await readEvents(res.body, alive)
      } catch {}
      clearTimeout(watchdog)
      stalled.abort()
      model.connected = false
      setConnection('offline', 'reconnecting…')
      await new Promise((resolve) => setTimeout(resolve, 2000))
    }
  }

  async function readEvents(body, alive) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      buffer += value.replace(/\r\n?/g, '\n')
      for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        let event = 'message'
        const data = []
        for (const line of block.split('\n')) {
          if (line === '' || line.startsWith(':')) continue
          const colon = line.indexOf(':')
          const field = colon === -1 ? line : line.slice(0, colon)
          const text = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
          if (field === 'event') event = text
          else if (field === 'data') data.push(text)
        }
        const handle = Object.hasOwn(EVENTS, event) ? EVENTS[event] : undefined
        if (handle && data.length > 0) handle(JSON.parse(data.join('\n')))
      }
      // After the events: a snapshot may have just said how often to expect a word.
      alive()
    }
  }

  function start() {
    const search = $('search')
    search.addEventListener('input', () => {
      filters.q = search.value.trim()
      scheduleRender()
    })
    search.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        search.value = ''
        filters.q = ''
        scheduleRender()
      }
    })
    $('state-filter').addEventListener('change', (event) => setStateFilter(event.target.value))
    $('node-filter').addEventListener('change', (event) => {
      filters.node = event.target.value
      scheduleRender()
    })
    $('filters').addEventListener('submit', (event) => event.preventDefault())
    document.addEventListener('keydown', (event) => {
      const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement?.tagName || '')
      if (event.key === '/' && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault()
        if (route.view !== 'overview') location.hash = '#/'
        search.focus()
      }
    })
    window.addEventListener('hashchange', () => applyRoute(true))
    // Relative times tick without a re-render, those in view only (see timeWatcher).
    setInterval(() => {
      for (const t of timesInView) {
        if (t.isConnected) tick(t)
        else {
          timesInView.delete(t)
          timeWatcher.unobserve(t)
        }
      }
    }, 1000)
    $('silence-form').addEventListener('submit', addSilence)
    applyRoute(false)
    connect()
    loadSilences()
  }

  start()
})()
