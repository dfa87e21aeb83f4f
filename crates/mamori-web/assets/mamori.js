// The pages' only script: stop a form from being sent twice by a double click.
document.addEventListener("submit", function (e) {
  var f = e.target;
  if (f.dataset.sent) { e.preventDefault(); return; }
  f.dataset.sent = "1";
});
