// The pages' own script (no inline script: the Content-Security-Policy has
// none). Marks the page as having JavaScript, as GOV.UK Frontend expects, and
// starts its components. Every page works without it.
import { initAll } from "/ui/assets/govuk-frontend-5.14.0/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();
