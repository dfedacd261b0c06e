/* Links the web page's files into vmstatd: ours from web/, uPlot from the npm install in
 * build/web (scripts/deps.sh). The Makefile passes each path; web.c hands them out by asset. */
        .macro WEB_FILE sym, path
        .section .rodata
        .balign 16
        .globl \sym, \sym\()_end
\sym:
        .incbin "\path"
\sym\()_end:
        .endm

        WEB_FILE vs_web_index_html, WEB_INDEX_HTML
        WEB_FILE vs_web_app_js, WEB_APP_JS
        WEB_FILE vs_web_app_css, WEB_APP_CSS
        WEB_FILE vs_web_uplot_js, WEB_UPLOT_JS
        WEB_FILE vs_web_uplot_css, WEB_UPLOT_CSS
        WEB_FILE vs_web_uplot_license, WEB_UPLOT_LICENSE
        .section .note.GNU-stack, "", @progbits
