/* The web page's bytes by asset: symbols web_assets.S defines around each file. */
#include "web.h"

#define WEB_FILE(sym) extern const unsigned char sym[], sym##_end[]
WEB_FILE(vs_web_index_html);
WEB_FILE(vs_web_app_js);
WEB_FILE(vs_web_app_css);
WEB_FILE(vs_web_uplot_js);
WEB_FILE(vs_web_uplot_css);
WEB_FILE(vs_web_uplot_license);

static const struct {
        const unsigned char *start, *end;
} files[] = {
        [VS_ASSET_PAGE] = { vs_web_index_html, vs_web_index_html_end },
        [VS_ASSET_APP_JS] = { vs_web_app_js, vs_web_app_js_end },
        [VS_ASSET_APP_CSS] = { vs_web_app_css, vs_web_app_css_end },
        [VS_ASSET_UPLOT_JS] = { vs_web_uplot_js, vs_web_uplot_js_end },
        [VS_ASSET_UPLOT_CSS] = { vs_web_uplot_css, vs_web_uplot_css_end },
        [VS_ASSET_UPLOT_LICENSE] = { vs_web_uplot_license, vs_web_uplot_license_end },
};
_Static_assert(sizeof(files) / sizeof(files[0]) == VS_ASSET__COUNT, "an asset without its bytes");

struct vs_web_file vs_web_file(enum vs_asset a) {
        if ((unsigned) a >= VS_ASSET__COUNT)
                return (struct vs_web_file) { 0 };
        return (struct vs_web_file) { .data = files[a].start, .len = (size_t) (files[a].end - files[a].start) };
}
