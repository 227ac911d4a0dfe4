// Progressive enhancement only: every form works without it.
// Typing over an inherited value ticks its "Override" box, so what you see is what is saved.
document.addEventListener("input", function (event) {
  var field = event.target;
  if (!field.id) return;
  var box = document.querySelector('input[data-override-for="' + field.id + '"]');
  if (box) box.checked = true;
});
document.addEventListener('DOMContentLoaded', function () { var current = document.querySelector('.sidenav [aria-current="page"]'); if (current && current.scrollIntoView && window.innerWidth <= 720) current.scrollIntoView({ inline: 'center', block: 'nearest' }); });
