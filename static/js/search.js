/* Instant suggestions for the destination search box (form.destination-search).
 *
 * The box is an ARIA 1.2 combobox with a listbox popup: type to get suggestions from
 * /search/suggest/ (debounced), Up/Down to move through them, Enter to open the one chosen
 * (or submit the search), Escape to close the list (or clear the box). Without this script
 * the form simply submits to /search/.
 */
(function () {
  "use strict";

  var DELAY_MS = 180;
  var MIN_LENGTH = 1;

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (match, name) {
      return name in values ? String(values[name]) : match;
    });
  }

  function setup(form) {
    var input = form.querySelector("input[name=q]");
    var list = form.querySelector("[role=listbox]");
    var status = form.querySelector("[data-search-status]");
    if (!input || !list || !window.fetch) {
      return;
    }
    var url = form.getAttribute("data-suggest-url");
    var texts = {
      from: form.getAttribute("data-text-from") || "%(price)s",
      none: form.getAttribute("data-text-none") || "",
      count: form.getAttribute("data-text-count") || "%(count)s",
      region: form.getAttribute("data-text-region") || ""
    };
    var results = [];
    var active = -1;
    var timer = null;
    var controller = null;
    var lastQuery = null;

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);

    function announce(message) {
      if (status) {
        status.textContent = message;
      }
    }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function open() {
      if (!list.children.length) {
        return;
      }
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function highlight(index) {
      var options = list.querySelectorAll("[role=option]");
      if (!options.length) {
        return;
      }
      if (index < 0) {
        index = options.length - 1;
      } else if (index >= options.length) {
        index = 0;
      }
      active = index;
      for (var i = 0; i < options.length; i++) {
        options[i].setAttribute("aria-selected", i === index ? "true" : "false");
      }
      input.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    }

    function go(index) {
      var result = results[index];
      if (result) {
        window.location.assign(result.url);
      }
    }

    function render(items) {
      results = items;
      active = -1;
      list.textContent = "";
      input.removeAttribute("aria-activedescendant");
      items.forEach(function (item, index) {
        var option = document.createElement("li");
        option.id = list.id + "-" + index;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.className = "suggestion suggestion-" + item.kind;

        var names = document.createElement("span");
        names.className = "suggestion-names";
        var name = document.createElement("span");
        name.className = "suggestion-name";
        name.textContent = item.name;
        names.appendChild(name);
        if (item.other_name && item.other_name !== item.name) {
          var other = document.createElement("span");
          other.className = "suggestion-other";
          other.textContent = item.other_name;
          names.appendChild(other);
        }
        option.appendChild(names);

        var price = document.createElement("span");
        price.className = "suggestion-price";
        var label = format(texts.from, { price: item.from_price });
        price.textContent = item.kind === "region" && texts.region ? texts.region + " · " + label : label;
        option.appendChild(price);

        // mousedown, not click: keeps the focus in the box until we leave the page.
        option.addEventListener("mousedown", function (event) {
          event.preventDefault();
          go(index);
        });
        list.appendChild(option);
      });
      if (items.length) {
        open();
        announce(format(texts.count, { count: items.length }));
      } else {
        close();
        announce(input.value.trim() ? texts.none : "");
      }
    }

    function fetchSuggestions() {
      var query = input.value.trim();
      if (query === lastQuery) {
        open();
        return;
      }
      lastQuery = query;
      if (controller) {
        controller.abort();
      }
      if (query.length < MIN_LENGTH) {
        render([]);
        return;
      }
      controller = window.AbortController ? new AbortController() : null;
      var params = new URLSearchParams({ q: query });
      var currency = new URLSearchParams(window.location.search).get("currency");
      if (currency) {
        params.set("currency", currency);
      }
      window
        .fetch(url + "?" + params.toString(), {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
          signal: controller ? controller.signal : undefined
        })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("suggest " + response.status);
          }
          return response.json();
        })
        .then(function (data) {
          if (input.value.trim() === query) {
            render(Array.isArray(data.results) ? data.results : []);
          }
        })
        .catch(function () {
          /* Aborted or offline: the form still submits to the search page. */
        });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(fetchSuggestions, DELAY_MS);
    });

    input.addEventListener("keydown", function (event) {
      var expanded = input.getAttribute("aria-expanded") === "true";
      switch (event.key) {
        case "ArrowDown":
          event.preventDefault();
          if (!expanded) {
            open();
          }
          highlight(active + 1);
          break;
        case "ArrowUp":
          event.preventDefault();
          if (!expanded) {
            open();
          }
          highlight(active - 1);
          break;
        case "Enter":
          if (expanded && active >= 0) {
            event.preventDefault();
            go(active);
          }
          break;
        case "Escape":
          if (expanded) {
            event.preventDefault();
            close();
          } else if (input.value) {
            event.preventDefault();
            input.value = "";
            lastQuery = null;
            render([]);
          }
          break;
        default:
          break;
      }
    });

    input.addEventListener("blur", function () {
      close();
    });

    input.addEventListener("focus", function () {
      if (results.length && input.value.trim() === lastQuery) {
        open();
      }
    });
  }

  function init() {
    var forms = document.querySelectorAll("form.destination-search");
    for (var i = 0; i < forms.length; i++) {
      setup(forms[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
