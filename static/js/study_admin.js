// The study's admin page: copy buttons for the participant links, and, while the study's game can
// still be chosen, conditions that offer only the adversaries of the chosen game.
(function () {
  "use strict";

  function copyButtons() {
    for (const button of document.querySelectorAll("button.copy-link")) {
      button.addEventListener("click", async function () {
        const input = document.getElementById(button.dataset.copy);
        input.select();
        try {
          await navigator.clipboard.writeText(input.value);
          button.textContent = "Copied";
        } catch (error) {  // no clipboard permission (plain http): the text stays selected to copy
          button.textContent = "Press Ctrl+C";
        }
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      });
    }
  }

  function filterAdversaries(gameSelect, gamesOf) {
    const game = gameSelect.value;
    for (const select of document.querySelectorAll("select.adversary-select")) {
      for (const option of select.options) {
        if (!option.value) continue;
        const offered = !game || (gamesOf[option.value] || []).includes(game);
        option.hidden = option.disabled = !offered;
        if (!offered && option.selected) select.value = "";
      }
      for (const group of select.querySelectorAll("optgroup")) {
        group.hidden = !Array.from(group.children).some(function (option) { return !option.hidden; });
      }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    copyButtons();
    const data = document.getElementById("adversary-games");
    const gameSelect = document.getElementById("id_game");
    if (!data || !gameSelect || gameSelect.tagName !== "SELECT") return;
    const gamesOf = JSON.parse(data.textContent);
    const filter = function () { filterAdversaries(gameSelect, gamesOf); };
    gameSelect.addEventListener("change", filter);
    document.addEventListener("formset:added", filter);
    filter();
  });
})();
