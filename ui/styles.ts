/**
 * The status page's stylesheet, served as /ui/assets/styles.css. Every status has a text label (the
 * colour only repeats it); text on each background meets WCAG AA (4.5:1) or better.
 */
export const STYLES_CSS = `
*{box-sizing:border-box}
html{color-scheme:light}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;background:#f6f8fa}
.skip{position:absolute;left:-999px;top:0;background:#fff;padding:.5rem 1rem}
.skip:focus{left:1rem;z-index:10}
.sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
header.bar{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1rem;padding:.75rem 1.25rem;background:#24292f;color:#fff}
header.bar h1{font-size:1.15rem;margin:0 1rem 0 0;letter-spacing:.02em}
header.bar label{font-weight:600}
header.bar .meta{margin-left:auto;display:flex;gap:1rem;color:#d0d7de;font-size:.9rem}
main{padding:1rem 1.25rem 3rem;max-width:110rem;margin:0 auto}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:1rem 1.25rem;margin:0 0 1.25rem}
h2{font-size:1.1rem;margin:0 0 .75rem}
h3{font-size:1rem;margin:1.25rem 0 .25rem}
select{font:inherit;padding:.3rem .5rem;border:1px solid #57606a;border-radius:6px;background:#fff;color:#1b1f24;max-width:100%}
.controls{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem;margin:0 0 .75rem}
.controls label{font-weight:600}
.muted{color:#57606a}
.notice{padding:.6rem 1rem;border-left:4px solid #0969da;background:#ddf4ff;margin:0 0 1rem;border-radius:4px}
.notice.warn{border-left-color:#9a6700;background:#fff8c5}
.notice.error{border-left-color:#cf222e;background:#ffebe9}
:focus-visible{outline:3px solid #0969da;outline-offset:2px}
.scroll{overflow-x:auto}
.id{display:block;font:.78rem ui-monospace,SFMono-Regular,Menlo,monospace;color:#57606a;font-weight:400}
table{border-collapse:separate;border-spacing:0}
.why{display:block;font-size:.82rem;color:#424a53}
.badge{display:inline-block;font-size:.8rem;font-weight:700;padding:.05rem .5rem;border-radius:999px;white-space:nowrap}
.tone-ok{--fg:#0f5323;--bg:#dafbe1;--edge:#1a7f37}
.tone-busy{--fg:#0a3069;--bg:#ddf4ff;--edge:#0969da}
.tone-wait{--fg:#5c3800;--bg:#fff8c5;--edge:#bf8700}
.tone-bad{--fg:#82071e;--bg:#ffebe9;--edge:#cf222e}
.tone-idle{--fg:#424a53;--bg:#eaeef2;--edge:#8c959f}
.badge[class*=tone-]{color:var(--fg);background:var(--bg);box-shadow:inset 0 0 0 1px var(--edge)}
tr.tone-busy .badge{animation:pulse 1.6s ease-in-out infinite}
@keyframes pulse{50%{opacity:.65}}
@media (prefers-reduced-motion:reduce){tr.tone-busy .badge{animation:none}}
.summary,.targets{width:100%}
.summary th,.summary td,.targets th,.targets td{padding:.5rem .6rem;text-align:left;vertical-align:top;border-bottom:1px solid #d8dee4}
.summary thead th,.targets thead th{border-bottom:2px solid #8c959f;font-size:.85rem}
.summary tbody th,.targets tbody th{font-weight:600;overflow-wrap:anywhere}
.summary tr.selected{background:#f6f8fa;box-shadow:inset 4px 0 0 #0969da}
.progress-cell{min-width:12rem}
.progress{position:relative;height:.8rem;border-radius:999px;background:#eaeef2;overflow:hidden;box-shadow:inset 0 0 0 1px #d0d7de}
.progress .part{position:absolute;top:0;bottom:0;background:var(--edge)}
.progress-text{display:block;font-size:.82rem;color:#424a53;margin-top:.2rem}
.counts{display:flex;flex-wrap:wrap;gap:.3rem}
button{font:inherit;padding:.3rem .7rem;border:1px solid #57606a;border-radius:6px;background:#f6f8fa;color:#1b1f24;cursor:pointer}
button:disabled{cursor:default;color:#57606a;border-color:#d0d7de}
button[aria-pressed=true]{background:#0969da;border-color:#0969da;color:#fff}
button.count{border:0;padding:.05rem .5rem;font-size:.8rem}
input[type=search]{font:inherit;padding:.3rem .5rem;border:1px solid #57606a;border-radius:6px;min-width:14rem}
.running{list-style:none;margin:0;padding:0;font-size:.85rem}
.running .version,.targets .version{font:600 .85rem ui-monospace,SFMono-Regular,Menlo,monospace}
.targets .from{display:block;font-size:.82rem;color:#424a53}
.targets tbody tr{box-shadow:inset 4px 0 0 var(--edge)}
.pager{display:flex;align-items:center;gap:.75rem;margin-top:.75rem}
.legend{display:flex;flex-wrap:wrap;gap:.4rem 1rem;list-style:none;padding:0;margin:.75rem 0 0;font-size:.85rem;color:#424a53}
.legend .swatch{display:inline-block;width:1.4rem;height:.8rem;border-radius:3px;vertical-align:middle;margin-right:.3rem}
.legend .swatch.planned{background:#fff8c5;border:2px dashed #9a6700}
.legend .now-swatch{width:3px;background:#cf222e}
.gantt{width:100%;table-layout:fixed}
.gantt th,.gantt td{padding:.3rem .5rem;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:middle}
.gantt thead th{border-bottom:2px solid #8c959f;font-size:.85rem}
.gantt th:first-child{width:12rem}
.gantt th:nth-child(2){width:9.5rem}
.gantt tbody th{font-weight:600;overflow-wrap:anywhere}
.gantt .state .why{font-size:.78rem}
.axis{position:relative;height:1.2rem}
.tick{position:absolute;top:0;transform:translateX(-50%);font:400 .72rem ui-monospace,SFMono-Regular,Menlo,monospace;color:#424a53;white-space:nowrap}
.lane{position:relative;overflow:hidden;height:1.9rem;background:repeating-linear-gradient(90deg,#fff 0 calc(10% - 1px),#eaeef2 calc(10% - 1px) 10%)}
.seg{position:absolute;top:.3rem;height:1.3rem;border-radius:4px;overflow:hidden;white-space:nowrap;font-size:.72rem;line-height:1.3rem;padding:0 .3rem;min-width:4px}
.seg-label{font-weight:600}
.phase-waiting{background:#f2cc60;color:#3b2300}
.phase-deploying{background:#0969da;color:#fff}
.phase-verifying{background:#8250df;color:#fff}
.phase-rolling_back{background:#cf222e;color:#fff}
.seg.open{box-shadow:inset -3px 0 0 rgba(0,0,0,.35)}
.seg.planned{background:#fff;border:2px dashed;color:#1b1f24;line-height:1.05rem}
.seg.planned.phase-waiting{border-color:#9a6700;background:#fff8c5}
.seg.planned.phase-deploying{border-color:#0969da;background:#ddf4ff;min-width:5.5rem}
.seg.planned.phase-verifying{border-color:#8250df;background:#fbefff}
.until{position:absolute;top:.55rem;height:.8rem;border:1px dashed #9a6700;border-left:0;border-radius:0 4px 4px 0;background:repeating-linear-gradient(45deg,#fff8c5 0 4px,#fff 4px 8px)}
.mark{position:absolute;top:.15rem;width:.7rem;height:.7rem;transform:translateX(-50%) rotate(45deg);border:2px solid #fff;z-index:2}
.kind-succeeded{background:#1a7f37}
.kind-failed,.kind-rolled_back{background:#cf222e}
.kind-cancelled,.kind-superseded{background:#57606a}
.kind-approval{background:#0550ae;top:1.1rem}
.kind-override{background:#bc4c00;top:1.1rem}
.now{position:absolute;top:0;bottom:0;width:2px;background:#cf222e;opacity:.7;z-index:1}
.lane-note{position:absolute;left:.4rem;top:.35rem;font-size:.8rem;color:#57606a}
.is-plan .lane{background:repeating-linear-gradient(90deg,#fbfcfd 0 calc(10% - 1px),#eaeef2 calc(10% - 1px) 10%)}
.measures{display:grid;grid-template-columns:repeat(auto-fit,minmax(12rem,1fr));gap:.75rem;margin:0 0 1rem}
.measure{border:1px solid #d0d7de;border-radius:6px;padding:.5rem .75rem}
.measure dt{font-size:.85rem;color:#424a53}
.measure dd{margin:0}
.measure .value{font-size:1.3rem;font-weight:700}
.measure .basis{font-size:.82rem;color:#57606a}
.chart{display:block;width:100%;height:9rem;background:repeating-linear-gradient(180deg,#fff 0 calc(25% - 1px),#eaeef2 calc(25% - 1px) 25%);border-bottom:1px solid #8c959f}
.chart-ok{fill:#1a7f37;background:#1a7f37}
.chart-bad{fill:#cf222e;background:#cf222e}
.chart-axis{display:flex;justify-content:space-between;font:400 .72rem ui-monospace,SFMono-Regular,Menlo,monospace;color:#424a53;margin-top:.2rem}
@media (max-width:50rem){.gantt th:first-child{width:7rem}.gantt th:nth-child(2){width:6.5rem}header.bar .meta{margin-left:0}}
`;
