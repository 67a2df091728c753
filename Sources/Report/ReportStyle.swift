/// The page's style sheet, inline so that the report needs no other file. System fonts only
/// (no font is fetched); numbers in tables right-aligned with figures of one width, so that
/// columns of scores read down; pictures and charts shrink to the page on narrow screens.
enum ReportStyle {
    static let css = """
        body{margin:0;background:#fafafa;color:#1a1a1a;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
        header,main,footer{max-width:1180px;margin:0 auto;padding:0 24px}
        header{padding-top:20px}
        h1{font-size:26px;margin:0 0 6px}
        h2{font-size:20px;margin:0 0 10px;padding-bottom:4px;border-bottom:1px solid #ddd}
        p{margin:6px 0 10px;max-width:900px}
        p.lead{font-size:16px;color:#333}
        p.note{font-size:13px;color:#555}
        nav ol{margin:6px 0 0;padding-left:22px;columns:2;max-width:700px;font-size:14px}
        a{color:#0063a6}
        section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;margin:18px 0;padding:14px 18px}
        table{border-collapse:collapse;margin:8px 0 14px;font-size:14px}
        caption{text-align:left;font-weight:600;padding-bottom:4px}
        th,td{border-bottom:1px solid #e6e6e6;padding:3px 12px 3px 0;text-align:left;vertical-align:top}
        th{font-weight:600;border-bottom:2px solid #ccc}
        td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;padding-left:12px}
        td.key{color:#444;white-space:nowrap}
        td.value{word-break:break-all}
        td.better{color:#00734d}
        td.worse{color:#b3400b}
        figure{margin:12px 0 18px}
        figure svg,figure img{display:block;max-width:100%;height:auto}
        figcaption{font-size:14px;color:#333;margin-top:4px;max-width:900px}
        .figures{display:flex;flex-wrap:wrap;gap:0 24px;align-items:flex-start}
        footer p{font-size:12px;color:#666;margin:8px 0 24px}
        """
}
