// The sandbox provider's card helper: groups the card number in fours as it
// is typed and flags a number whose check digit (Luhn) is wrong. The form
// works without it: the provider checks everything again on the server.
(function () {
  "use strict";
  var number = document.getElementById("number");
  if (!number) {
    return;
  }
  function digits(v) {
    return v.replace(/[\s-]/g, "");
  }
  function luhnOk(d) {
    var sum = 0;
    var double = false;
    for (var i = d.length - 1; i >= 0; i--) {
      var n = d.charCodeAt(i) - 48;
      if (double) {
        n *= 2;
        if (n > 9) {
          n -= 9;
        }
      }
      sum += n;
      double = !double;
    }
    return sum % 10 === 0;
  }
  function check() {
    var d = digits(number.value);
    var bad = /^[0-9]{12,19}$/.test(d) && !luhnOk(d);
    if (bad) {
      number.setAttribute("aria-invalid", "true");
    } else if (!number.closest(".invalid")) {
      number.removeAttribute("aria-invalid");
    }
    return !bad;
  }
  number.addEventListener("input", function () {
    var v = number.value;
    // Only plain ASCII digits and spaces are regrouped; anything else
    // (full-width digits, hyphens) is left as typed for the server.
    if (/^[0-9 ]*$/.test(v)) {
      var d = v.replace(/ /g, "");
      var grouped = d.replace(/(.{4})(?=.)/g, "$1 ");
      if (grouped !== v) {
        number.value = grouped;
      }
    }
  });
  number.addEventListener("change", check);
  var form = number.form;
  if (form) {
    form.addEventListener("submit", check);
  }
})();
