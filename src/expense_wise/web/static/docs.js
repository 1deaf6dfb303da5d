// Starts the vendored Swagger UI on this service's OpenAPI document (a file, not an inline
// script, so the page's Content-Security-Policy needs no 'unsafe-inline' for scripts).
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.url,
    domNode: root,
    deepLinking: true,
    tryItOutEnabled: false,
  });
});
