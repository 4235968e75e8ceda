// The page's words in Spanish and English, chosen from the browser's language; numbers in its locale.
const words = {
  en: {
    skip: 'Skip to content',
    title: 'Testigo — live dashboard',
    tokenLabel: 'Access token',
    signIn: 'Sign in',
    signOut: 'Sign out',
    badToken: 'That token was not accepted.',
    yes: 'yes',
    no: 'no',
    median: 'median',
    mean: 'mean',
    kinds: { opening: 'Opening', arrival: 'Arrival', results: 'Results', closing: 'Closing' },
    noSummaries: 'This token cannot read summaries (observers report; coordinators, analysts and admins read).',
    national: 'National',
    centresReporting: 'Centres reporting',
    centresOpened: 'Centres opened',
    tablesCounted: 'Tables counted',
    turnout: 'Turnout',
    candidates: 'Votes per candidate',
    map: 'Map of the states',
    shadeBy: 'Shade by',
    coverage: 'Coverage (centres reporting)',
    leader: "Leading candidate's share",
    municipalities: 'Municipalities',
    states: 'States',
    incidentsTimeline: 'Incidents over time',
    missing: 'Centres missing a report',
    missingKind: 'Report kind',
    analysis: 'Process analysis',
    form: 'Form',
    footer: 'Testigo — election observation',
    of: 'of',
    name: 'Name',
    incidents: 'Incidents',
    leading: 'Leading',
    noData: 'No data',
    noIncidents: 'No incidents reported yet.',
    noMissing: 'No centre is missing this report.',
    missingShown: (shown, more) => `${shown} centres shown${more ? ' (more not shown)' : ''}.`,
    observers: 'Observers',
    none: 'none',
    live: 'Live',
    polling: 'Updating every second',
    updated: (time) => `Updated ${time}`,
    publicMode: 'Public results',
    lessMore: 'lighter: less, darker: more',
    sortBy: (column) => `Sort by ${column}`,
    stateRow: 'The state',
    reports: 'reports',
    question: 'Question',
    units: 'Units reporting',
    noAnalysis: 'No analysis for this form yet.',
    selectState: 'Select a state on the map or in the table to see its municipalities.',
    show: (name) => `Show ${name}`,
  },
  es: {
    skip: 'Ir al contenido',
    title: 'Testigo — tablero en vivo',
    tokenLabel: 'Clave de acceso',
    signIn: 'Entrar',
    signOut: 'Salir',
    badToken: 'La clave no fue aceptada.',
    yes: 'sí',
    no: 'no',
    median: 'mediana',
    mean: 'media',
    kinds: { opening: 'Apertura', arrival: 'Llegada', results: 'Resultados', closing: 'Cierre' },
    noSummaries:
      'Esta clave no puede leer resúmenes (los observadores reportan; coordinadores, analistas y administradores leen).',
    national: 'Nacional',
    centresReporting: 'Centros que reportan',
    centresOpened: 'Centros abiertos',
    tablesCounted: 'Mesas contadas',
    turnout: 'Participación',
    candidates: 'Votos por candidato',
    map: 'Mapa de los estados',
    shadeBy: 'Colorear por',
    coverage: 'Cobertura (centros que reportan)',
    leader: 'Porcentaje del candidato que lidera',
    municipalities: 'Municipios',
    states: 'Estados',
    incidentsTimeline: 'Incidencias en el tiempo',
    missing: 'Centros sin reporte',
    missingKind: 'Tipo de reporte',
    analysis: 'Análisis del proceso',
    form: 'Formulario',
    footer: 'Testigo — observación electoral',
    of: 'de',
    name: 'Nombre',
    incidents: 'Incidencias',
    leading: 'Lidera',
    noData: 'Sin datos',
    noIncidents: 'Aún no hay incidencias.',
    noMissing: 'Ningún centro carece de este reporte.',
    missingShown: (shown, more) => `${shown} centros mostrados${more ? ' (hay más)' : ''}.`,
    observers: 'Observadores',
    none: 'ninguno',
    live: 'En vivo',
    polling: 'Actualizando cada segundo',
    updated: (time) => `Actualizado ${time}`,
    publicMode: 'Resultados públicos',
    lessMore: 'claro: menos, oscuro: más',
    sortBy: (column) => `Ordenar por ${column}`,
    stateRow: 'El estado',
    reports: 'reportes',
    question: 'Pregunta',
    units: 'Unidades que reportan',
    noAnalysis: 'Aún no hay análisis de este formulario.',
    selectState: 'Elija un estado en el mapa o en la tabla para ver sus municipios.',
    show: (name) => `Mostrar ${name}`,
  },
};

export const locale = navigator.language || 'en';
export const lang = /^es\b/i.test(locale) ? 'es' : 'en';
export const t = words[lang];

const integer = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
const percent = new Intl.NumberFormat(locale, { style: 'percent', minimumFractionDigits: 2, maximumFractionDigits: 2 });
const decimal = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
const percentWhole = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 0 });
const percentShort = new Intl.NumberFormat(locale, {
  style: 'percent',
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});
const time = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dayTime = new Intl.DateTimeFormat(locale, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

export const fmt = {
  int: (value) => (value === null || value === undefined ? '—' : integer.format(value)),
  pct: (value) => (value === null || value === undefined ? '—' : percent.format(value)),
  num: (value) => (value === null || value === undefined ? '—' : decimal.format(value)),
  pctWhole: (value) => percentWhole.format(value),
  pctShort: (value) => (value === null || value === undefined ? '—' : percentShort.format(value)),
  time: (date) => time.format(date),
  dayTime: (date) => dayTime.format(date),
};

/** Puts the words into every element marked data-i18n, and the language on <html>. */
export function translatePage() {
  document.documentElement.lang = lang;
  document.title = t.title;
  for (const element of document.querySelectorAll('[data-i18n]')) {
    const word = t[element.dataset.i18n];
    if (typeof word === 'string') element.textContent = word;
  }
  for (const option of document.querySelectorAll('option[data-kind]')) option.textContent = t.kinds[option.value];
}
