"""Sphinx configuration of the course website (`make site`; lecture/build_site.py writes the sources).

Sphinx + myst-nb + sphinx-book-theme, all from PyPI, because the whole build runs offline: nothing
is fetched at build time except MathJax, from the npm registry, which is copied into _static so the
pages load it locally (Jupyter Book 2 / mystmd would download their site template from the web at
build time). The notebooks are rendered from their committed outputs (no re-execution).
"""

project = "vae-course"
author = "vae-course contributors"
copyright = "vae-course contributors, MIT licence"

extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# notebooks: committed outputs only, never executed here
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # widgets are replaced by their saved snapshot (lecture/build_site.py): no widget JS
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
# a notebook's first heading is its title ("# 04 · ..."); some go on with "###" (e.g. "### Parameters")
suppress_warnings = ["myst.header"]

# MathJax 3, served from _static (copied there by lecture/build_site.py from the npm registry's package)
mathjax_path = "mathjax/tex-chtml-full.js"

html_theme = "sphinx_book_theme"
html_title = "vae-course"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_last_updated_fmt = None
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "use_download_button": False,
    "use_fullscreen_button": False,
}
