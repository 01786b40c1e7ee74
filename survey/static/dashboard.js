// Draws each chart whose spec URL is in data-spec-url, with Vega's expression interpreter so the
// page needs no 'unsafe-eval' in its Content-Security-Policy. Without JavaScript the tables stay.
var DUTCH = { decimal: ",", thousands: ".", grouping: [3], currency: ["€\u00a0", ""] };
document.querySelectorAll("[data-spec-url]").forEach(function (element) {
  fetch(element.dataset.specUrl, { credentials: "same-origin" })
    .then(function (response) { return response.json(); })
    .then(function (spec) {
      return vegaEmbed(element, spec, {
        ast: true,
        expr: window.vegaExpressionInterpreter,
        // The actions menu styles itself with an inline <style>, which the CSP refuses;
        // downloads are offered as links next to the table instead.
        actions: false,
        defaultStyle: false,
        // vega-tooltip would add its own <style> element; its look is in site.css instead.
        tooltip: { disableDefaultStyle: true },
        // The page's number notation, as in the tables: 8,09 in Dutch, 8.09 in English.
        formatLocale: document.documentElement.lang === "en" ? undefined : DUTCH,
      });
    })
    .catch(function () { element.hidden = true; });
});
