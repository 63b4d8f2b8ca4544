// Applies the saved theme before the first paint (the app bundle loads after it).
try {
  var t = localStorage.getItem('hearth.theme');
  if (t !== 'light' && t !== 'dark') t = matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  document.documentElement.dataset.theme = t;
} catch (e) {}
