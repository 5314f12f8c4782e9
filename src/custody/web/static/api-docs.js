// Custody's API documentation: Swagger UI over our OpenAPI document, from our own server.
// A file, not an inline script, so that the page's policy allows scripts from 'self' only.
"use strict";

(function () {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
