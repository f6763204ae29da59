// Starts Swagger UI (served from this host, see catalog/routes/portal.py) on the API's own OpenAPI document.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  window.SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
    persistAuthorization: false, tryItOutEnabled: false });
});
