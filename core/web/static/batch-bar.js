/* The case list's batch bar (core/web/templates/cases/list.html): the "打印文书" select offers
   the documents of the case types ticked in the list — a document of a type none of the ticked
   cases has is disabled, so nobody prints a pile of "该类事项没有这种文书". With nothing ticked,
   or without this script, every document stays offered and the server's summary names the cases
   left out. No framework, nothing from outside the platform. */
(function () {
  'use strict';
  var form = document.getElementById('batch');
  var select = document.getElementById('batch-key');
  if (!form || !select) { return; }

  function refresh() {
    var ticked = {};
    var any = false;
    form.querySelectorAll('input[name=case_id]:checked').forEach(function (box) {
      ticked[box.getAttribute('data-case-type')] = true;
      any = true;
    });
    select.querySelectorAll('optgroup[data-case-type]').forEach(function (group) {
      var off = any && !ticked[group.getAttribute('data-case-type')];
      group.disabled = off;
      if (off && group.contains(select.options[select.selectedIndex])) { select.value = ''; }
    });
  }

  form.addEventListener('change', function (event) {
    if (event.target && event.target.name === 'case_id') { refresh(); }
  });
  refresh();
})();
