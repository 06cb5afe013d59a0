// Loaded after require.js, before the Jupyter widgets' HTML manager (docs/conf.py, nb_ipywidgets_js).
// The manager finds its fonts next to where RequireJS thinks it lives; by default that is the page's
// own folder. Point RequireJS at the vendored copy in _static/vendor/, wherever the page is.
(function () {
  var here = document.currentScript.src.split("?")[0];
  var vendor = here.slice(0, here.lastIndexOf("/") + 1) + "vendor/";
  require.config({paths: {"@jupyter-widgets/html-manager/dist": vendor + "html-manager/dist"}});
})();
