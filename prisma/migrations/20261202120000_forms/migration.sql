-- The six built-in kinds become forms (issue 12), their role their key, each at version 1 with exactly the
-- questions and constraints their zod schemas had (src/features/reports/forms.ts until this release), labelled
-- in English and Spanish. Definitions are normalised as the forms service stores a published one (README › Forms).
-- Reports already stored name these keys, at form_version 1.

INSERT INTO "forms" ("key", "role", "unit") VALUES
  ('arrival', 'arrival', 'centre'),
  ('opening', 'opening', 'centre'),
  ('voting', 'voting', 'centre'),
  ('closing', 'closing', 'centre'),
  ('results', 'results', 'table'),
  ('incident', 'incident', 'centre');

INSERT INTO "form_versions" ("form_key", "version", "definition") VALUES
  ('arrival', 1, '{
  "key": "arrival",
  "title": {
    "en": "Arrival at the centre",
    "es": "Llegada al centro"
  },
  "unit": "centre",
  "questions": [
    {
      "key": "accessGranted",
      "type": "boolean",
      "label": {
        "en": "The observer was let into the centre",
        "es": "Se permitió al observador entrar al centro"
      },
      "required": true
    },
    {
      "key": "deniedReason",
      "type": "text",
      "label": {
        "en": "Why access was denied",
        "es": "Por qué se negó el acceso"
      },
      "required": false,
      "maxLength": 1000
    }
  ]
}'::jsonb),
  ('opening', 1, '{
  "key": "opening",
  "title": {
    "en": "Opening of the table or centre",
    "es": "Apertura de la mesa o del centro"
  },
  "unit": "centre",
  "questions": [
    {
      "key": "openedAt",
      "type": "time",
      "label": {
        "en": "Opening time",
        "es": "Hora de apertura"
      },
      "help": {
        "en": "Local time the voting started",
        "es": "Hora local en que comenzó la votación"
      },
      "required": true
    },
    {
      "key": "tableStaffComplete",
      "type": "boolean",
      "label": {
        "en": "The table staff was complete",
        "es": "Los miembros de mesa estaban completos"
      },
      "required": true
    },
    {
      "key": "zeroReportPrinted",
      "type": "boolean",
      "label": {
        "en": "Zero report printed",
        "es": "Acta cero impresa"
      },
      "help": {
        "en": "The voting machine printed its zero report",
        "es": "La máquina de votación imprimió su acta cero"
      },
      "required": true
    },
    {
      "key": "witnessesPresent",
      "type": "codes",
      "label": {
        "en": "Party witnesses present",
        "es": "Testigos de partido presentes"
      },
      "help": {
        "en": "Parties or candidates with a witness present",
        "es": "Partidos o candidatos con un testigo presente"
      },
      "required": true,
      "maxItems": 50
    },
    {
      "key": "problems",
      "type": "text",
      "label": {
        "en": "Problems at the opening",
        "es": "Problemas en la apertura"
      },
      "required": false,
      "maxLength": 2000
    }
  ]
}'::jsonb),
  ('voting', 1, '{
  "key": "voting",
  "title": {
    "en": "During the voting",
    "es": "Durante la votación"
  },
  "unit": "centre",
  "questions": [
    {
      "key": "queueLength",
      "type": "single",
      "label": {
        "en": "Length of the queue",
        "es": "Largo de la cola"
      },
      "required": true,
      "options": [
        {
          "key": "none",
          "label": {
            "en": "None",
            "es": "Ninguna"
          }
        },
        {
          "key": "short",
          "label": {
            "en": "Short",
            "es": "Corta"
          }
        },
        {
          "key": "medium",
          "label": {
            "en": "Medium",
            "es": "Mediana"
          }
        },
        {
          "key": "long",
          "label": {
            "en": "Long",
            "es": "Larga"
          }
        }
      ]
    },
    {
      "key": "waitingMinutes",
      "type": "integer",
      "label": {
        "en": "Minutes of waiting",
        "es": "Minutos de espera"
      },
      "required": true,
      "min": 0,
      "max": 1440
    },
    {
      "key": "assistedVotingProblems",
      "type": "boolean",
      "label": {
        "en": "Problems with assisted voting",
        "es": "Problemas con el voto asistido"
      },
      "required": true
    },
    {
      "key": "identificationProblems",
      "type": "boolean",
      "label": {
        "en": "Problems identifying voters",
        "es": "Problemas para identificar a los electores"
      },
      "required": true
    },
    {
      "key": "securityForces",
      "type": "single",
      "label": {
        "en": "Security forces",
        "es": "Fuerzas de seguridad"
      },
      "required": true,
      "options": [
        {
          "key": "absent",
          "label": {
            "en": "Absent",
            "es": "Ausentes"
          }
        },
        {
          "key": "appropriate",
          "label": {
            "en": "Appropriate",
            "es": "Apropiadas"
          }
        },
        {
          "key": "intimidating",
          "label": {
            "en": "Intimidating",
            "es": "Intimidantes"
          }
        },
        {
          "key": "interfering",
          "label": {
            "en": "Interfering",
            "es": "Interfiriendo"
          }
        }
      ]
    },
    {
      "key": "propagandaNearby",
      "type": "boolean",
      "label": {
        "en": "Propaganda near the centre",
        "es": "Propaganda cerca del centro"
      },
      "required": true
    },
    {
      "key": "comments",
      "type": "text",
      "label": {
        "en": "Comments",
        "es": "Comentarios"
      },
      "required": false,
      "maxLength": 2000
    }
  ]
}'::jsonb),
  ('closing', 1, '{
  "key": "closing",
  "title": {
    "en": "Closing of the table",
    "es": "Cierre de la mesa"
  },
  "unit": "centre",
  "questions": [
    {
      "key": "closedAt",
      "type": "time",
      "label": {
        "en": "Closing time",
        "es": "Hora de cierre"
      },
      "required": true
    },
    {
      "key": "votersInLineAllowed",
      "type": "boolean",
      "label": {
        "en": "Voters in line allowed to vote",
        "es": "Se permitió votar a los electores en cola"
      },
      "help": {
        "en": "Voters still in line at closing time were allowed to vote",
        "es": "Los electores que seguían en la cola a la hora de cierre pudieron votar"
      },
      "required": true
    },
    {
      "key": "votersInLineAtClose",
      "type": "integer",
      "label": {
        "en": "Voters in line at closing time",
        "es": "Electores en cola a la hora de cierre"
      },
      "required": false,
      "min": 0,
      "max": 1000000
    }
  ]
}'::jsonb),
  ('results', 1, '{
  "key": "results",
  "title": {
    "en": "Results of a table (its tally sheet)",
    "es": "Resultados de una mesa (su acta de escrutinio)"
  },
  "unit": "table",
  "questions": [
    {
      "key": "registeredVoters",
      "type": "integer",
      "label": {
        "en": "Registered voters",
        "es": "Electores inscritos"
      },
      "required": true,
      "min": 0,
      "max": 1000000
    },
    {
      "key": "validVotes",
      "type": "integer",
      "label": {
        "en": "Valid votes",
        "es": "Votos válidos"
      },
      "required": true,
      "min": 0,
      "max": 1000000
    },
    {
      "key": "nullVotes",
      "type": "integer",
      "label": {
        "en": "Null votes",
        "es": "Votos nulos"
      },
      "required": true,
      "min": 0,
      "max": 1000000
    },
    {
      "key": "blankVotes",
      "type": "integer",
      "label": {
        "en": "Blank votes",
        "es": "Votos en blanco"
      },
      "required": false,
      "min": 0,
      "max": 1000000
    },
    {
      "key": "votes",
      "type": "tally",
      "label": {
        "en": "Votes per candidate",
        "es": "Votos por candidato"
      },
      "help": {
        "en": "Votes per candidate code of the election",
        "es": "Votos por código de candidato de la elección"
      },
      "required": true,
      "min": 0,
      "max": 1000000
    },
    {
      "key": "citizenAudit",
      "type": "boolean",
      "label": {
        "en": "Citizen audit",
        "es": "Auditoría ciudadana"
      },
      "help": {
        "en": "A citizen audit of the count took place",
        "es": "Se realizó una auditoría ciudadana del escrutinio"
      },
      "required": true
    }
  ]
}'::jsonb),
  ('incident', 1, '{
  "key": "incident",
  "title": {
    "en": "Incident",
    "es": "Incidente"
  },
  "unit": "centre",
  "questions": [
    {
      "key": "category",
      "type": "single",
      "label": {
        "en": "Category",
        "es": "Categoría"
      },
      "required": true,
      "options": [
        {
          "key": "violence",
          "label": {
            "en": "Violence",
            "es": "Violencia"
          }
        },
        {
          "key": "intimidation",
          "label": {
            "en": "Intimidation",
            "es": "Intimidación"
          }
        },
        {
          "key": "vote_buying",
          "label": {
            "en": "Vote buying",
            "es": "Compra de votos"
          }
        },
        {
          "key": "coercion",
          "label": {
            "en": "Coercion",
            "es": "Coacción"
          }
        },
        {
          "key": "identity_fraud",
          "label": {
            "en": "Identity fraud",
            "es": "Suplantación de identidad"
          }
        },
        {
          "key": "machine_failure",
          "label": {
            "en": "Voting machine failure",
            "es": "Falla de la máquina de votación"
          }
        },
        {
          "key": "materials_missing",
          "label": {
            "en": "Missing materials",
            "es": "Faltan materiales"
          }
        },
        {
          "key": "observer_denied",
          "label": {
            "en": "Observer denied access",
            "es": "Se negó el acceso al observador"
          }
        },
        {
          "key": "witness_denied",
          "label": {
            "en": "Witness denied access",
            "es": "Se negó el acceso a un testigo"
          }
        },
        {
          "key": "propaganda",
          "label": {
            "en": "Propaganda",
            "es": "Propaganda"
          }
        },
        {
          "key": "security_forces",
          "label": {
            "en": "Security forces",
            "es": "Fuerzas de seguridad"
          }
        },
        {
          "key": "late_opening",
          "label": {
            "en": "Late opening",
            "es": "Apertura tardía"
          }
        },
        {
          "key": "irregular_closing",
          "label": {
            "en": "Irregular closing",
            "es": "Cierre irregular"
          }
        },
        {
          "key": "tally_irregularity",
          "label": {
            "en": "Tally irregularity",
            "es": "Irregularidad en el escrutinio"
          }
        },
        {
          "key": "other",
          "label": {
            "en": "Other",
            "es": "Otro"
          }
        }
      ]
    },
    {
      "key": "severity",
      "type": "single",
      "label": {
        "en": "Severity",
        "es": "Gravedad"
      },
      "required": true,
      "options": [
        {
          "key": "low",
          "label": {
            "en": "Low",
            "es": "Baja"
          }
        },
        {
          "key": "medium",
          "label": {
            "en": "Medium",
            "es": "Media"
          }
        },
        {
          "key": "high",
          "label": {
            "en": "High",
            "es": "Alta"
          }
        },
        {
          "key": "critical",
          "label": {
            "en": "Critical",
            "es": "Crítica"
          }
        }
      ]
    },
    {
      "key": "description",
      "type": "text",
      "label": {
        "en": "What happened",
        "es": "Qué ocurrió"
      },
      "required": true,
      "maxLength": 4000
    },
    {
      "key": "ongoing",
      "type": "boolean",
      "label": {
        "en": "Still ongoing",
        "es": "Sigue en curso"
      },
      "required": false,
      "default": false
    }
  ]
}'::jsonb);
