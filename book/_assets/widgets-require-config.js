// Point require.js at the widget manager served from this book's _static/vendor/ folder.
// The widget bundles in embed-amd.js locate their fonts relative to the URL of their AMD module
// ("@jupyter-widgets/base", ".../controls", "@jupyter-widgets/html-manager/dist/..."); without
// this mapping require.js resolves those against the page's own folder, where nothing is
// served. Every such URL must land in vendor/html-manager/, next to the fonts.
// Loaded after require.js and before embed-amd.js.
(function () {
  "use strict";
  var here = document.currentScript.src;
  var staticRoot = here.slice(0, here.lastIndexOf("/") + 1);
  window.require.config({
    paths: {
      "@jupyter-widgets": staticRoot + "vendor/html-manager",
      "@jupyter-widgets/html-manager/dist": staticRoot + "vendor/html-manager",
    },
  });
})();
