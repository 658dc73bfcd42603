// Starts Swagger UI on /api/docs from the JSON block the page carries (no inline script: CSP).
window.addEventListener("load", function () {
  var config = JSON.parse(document.getElementById("swagger-ui-config").textContent);
  config.dom_id = "#swagger-ui-container";
  window.ui = SwaggerUIBundle(config);
});
