// Draws each chart whose spec URL is in data-spec-url, with Vega's expression interpreter so the
// page needs no 'unsafe-eval' in its Content-Security-Policy. Without JavaScript the tables stay.
document.querySelectorAll("[data-spec-url]").forEach(function (element) {
  fetch(element.dataset.specUrl, { credentials: "same-origin" })
    .then(function (response) { return response.json(); })
    .then(function (spec) {
      return vegaEmbed(element, spec, {
        ast: true,
        expr: window.vegaExpressionInterpreter,
        actions: { export: true, source: false, compiled: false, editor: false },
      });
    })
    .catch(function () { element.hidden = true; });
});
