"""Synthetic Mexican customers for the demo orders.

A customer is a pure function of ``(salt, key)``: the same key always gives the same
name, channel, platform id, email and address, so a repeat customer keeps their identity
without the generator holding every customer in memory. Platform ids come from a
bijection of the key, so two keys never share a WhatsApp number, PSID or IGSID.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unidecode import unidecode

_MASK = (1 << 64) - 1


def mix64(value: int) -> int:
    """splitmix64's finaliser: a fast, well-spread 64-bit hash of an integer."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


FEMALE_NAMES = (
    "María",
    "Guadalupe",
    "Fernanda",
    "Daniela",
    "Valeria",
    "Sofía",
    "Camila",
    "Ximena",
    "Andrea",
    "Alejandra",
    "Mariana",
    "Gabriela",
    "Ana",
    "Karla",
    "Paola",
    "Diana",
    "Natalia",
    "Regina",
    "Renata",
    "Lucía",
    "Adriana",
    "Verónica",
    "Claudia",
    "Itzel",
    "Jimena",
    "Montserrat",
    "Brenda",
    "Elena",
    "Leticia",
    "Rocío",
    "María José",
    "Ana Sofía",
    "Luz María",
    "Frida",
    "Abril",
)
MALE_NAMES = (
    "José",
    "Juan",
    "Luis",
    "Carlos",
    "Jorge",
    "Miguel",
    "Alejandro",
    "Fernando",
    "Eduardo",
    "Ricardo",
    "Diego",
    "Santiago",
    "Emiliano",
    "Mateo",
    "Sebastián",
    "Daniel",
    "Javier",
    "Roberto",
    "Arturo",
    "Raúl",
    "Héctor",
    "Óscar",
    "Iván",
    "Rodrigo",
    "Francisco",
    "Manuel",
    "Andrés",
    "Emilio",
    "Leonardo",
    "Uriel",
    "Juan Carlos",
    "José Luis",
    "Luis Fernando",
    "Jesús",
    "Ángel",
)
FIRST_NAMES = FEMALE_NAMES + MALE_NAMES
LAST_NAMES = (
    "Hernández",
    "García",
    "Martínez",
    "López",
    "González",
    "Pérez",
    "Rodríguez",
    "Sánchez",
    "Ramírez",
    "Cruz",
    "Flores",
    "Gómez",
    "Morales",
    "Vázquez",
    "Reyes",
    "Jiménez",
    "Torres",
    "Díaz",
    "Gutiérrez",
    "Ruiz",
    "Mendoza",
    "Aguilar",
    "Ortiz",
    "Moreno",
    "Castillo",
    "Romero",
    "Álvarez",
    "Méndez",
    "Chávez",
    "Rivera",
    "Juárez",
    "Ramos",
    "Domínguez",
    "Herrera",
    "Medina",
    "Castro",
    "Vargas",
    "Guzmán",
    "Velázquez",
    "Rojas",
    "Contreras",
    "Salazar",
    "Luna",
    "Ortega",
    "Cervantes",
    "Estrada",
    "Delgado",
    "Vega",
    "Sandoval",
    "Navarro",
    "Campos",
    "Ávila",
    "Ibarra",
    "Zamora",
    "Olvera",
)
_ASCII_FIRST = tuple(unidecode(n.split()[0]).lower() for n in FIRST_NAMES)
_ASCII_LAST = tuple(unidecode(n).lower().replace(" ", "") for n in LAST_NAMES)
# Accent-free, lower-case forms (as order search text stores them), folded once here.
_FOLDED_FIRST = tuple(unidecode(n).lower() for n in FIRST_NAMES)
_FOLDED_LAST = tuple(unidecode(n).lower() for n in LAST_NAMES)

EMAIL_DOMAINS = (
    ("gmail.com", 55),
    ("hotmail.com", 18),
    ("outlook.com", 10),
    ("yahoo.com.mx", 8),
    ("icloud.com", 7),
    ("live.com.mx", 2),
)
_DOMAIN_TABLE = tuple(d for d, weight in EMAIL_DOMAINS for _ in range(weight))

# (colonia, postal code, city, state, WhatsApp area code, streets), weighted towards
# Mexico City, where the shop is.
NEIGHBORHOODS: tuple[tuple[str, str, str, str, str, tuple[str, ...]], ...] = (
    (
        "Roma Norte",
        "06700",
        "Ciudad de México",
        "CDMX",
        "55",
        ("Colima", "Orizaba", "Córdoba", "Álvaro Obregón", "Durango", "Tonalá"),
    ),
    (
        "Roma Sur",
        "06760",
        "Ciudad de México",
        "CDMX",
        "55",
        ("Medellín", "Tehuantepec", "Manzanillo", "Coahuila"),
    ),
    (
        "Condesa",
        "06140",
        "Ciudad de México",
        "CDMX",
        "55",
        ("Ámsterdam", "Tamaulipas", "Michoacán", "Atlixco"),
    ),
    (
        "Hipódromo",
        "06100",
        "Ciudad de México",
        "CDMX",
        "55",
        ("Av. México", "Sonora", "Cacahuamilpa"),
    ),
    (
        "Juárez",
        "06600",
        "Ciudad de México",
        "CDMX",
        "55",
        ("Hamburgo", "Londres", "Liverpool", "Marsella"),
    ),
    (
        "Del Valle Centro",
        "03100",
        "Ciudad de México",
        "CDMX",
        "55",
        ("Av. Coyoacán", "Pilares", "Gabriel Mancera", "Adolfo Prieto"),
    ),
    (
        "Narvarte Poniente",
        "03020",
        "Ciudad de México",
        "CDMX",
        "55",
        ("Av. Universidad", "Xola", "Pitágoras", "Anaxágoras"),
    ),
    (
        "Nápoles",
        "03810",
        "Ciudad de México",
        "CDMX",
        "55",
        ("Pensilvania", "Dakota", "Kansas", "Nebraska"),
    ),
    (
        "Crédito Constructor",
        "03940",
        "Ciudad de México",
        "CDMX",
        "55",
        ("Insurgentes Sur", "Av. Barranca del Muerto"),
    ),
    (
        "Polanco V Sección",
        "11560",
        "Ciudad de México",
        "CDMX",
        "55",
        ("Homero", "Horacio", "Emilio Castelar", "Julio Verne"),
    ),
    ("Anzures", "11590", "Ciudad de México", "CDMX", "55", ("Darwin", "Víctor Hugo", "Leibnitz")),
    (
        "Escandón I Sección",
        "11800",
        "Ciudad de México",
        "CDMX",
        "56",
        ("Progreso", "José Martí", "Agricultura"),
    ),
    (
        "Del Carmen",
        "04100",
        "Ciudad de México",
        "CDMX",
        "56",
        ("Francisco Sosa", "Allende", "Malintzin"),
    ),
    (
        "Lindavista",
        "07300",
        "Ciudad de México",
        "CDMX",
        "56",
        ("Av. Montevideo", "Callao", "Riobamba"),
    ),
    (
        "San Pedro de los Pinos",
        "03800",
        "Ciudad de México",
        "CDMX",
        "56",
        ("Calle 4", "Calle 11", "Av. 2"),
    ),
    (
        "Lomas de Santa Fe",
        "01219",
        "Ciudad de México",
        "CDMX",
        "55",
        ("Av. Vasco de Quiroga", "Carlos Graef Fernández"),
    ),
    (
        "Ciudad Satélite",
        "53100",
        "Naucalpan de Juárez",
        "Estado de México",
        "55",
        ("Circuito Economistas", "Circuito Pintores", "Circuito Novelistas"),
    ),
    (
        "San Fernando La Herradura",
        "52787",
        "Huixquilucan",
        "Estado de México",
        "55",
        ("Paseo de la Herradura", "Av. de los Bosques"),
    ),
    (
        "Providencia",
        "44630",
        "Guadalajara",
        "Jalisco",
        "33",
        ("Av. Pablo Neruda", "Ottawa", "Montreal"),
    ),
    (
        "Chapalita",
        "45040",
        "Zapopan",
        "Jalisco",
        "33",
        ("Av. Guadalupe", "Av. de las Rosas", "Tepeyac"),
    ),
    (
        "Del Valle",
        "66220",
        "San Pedro Garza García",
        "Nuevo León",
        "81",
        ("Calzada del Valle", "Río Missouri", "Río Orinoco"),
    ),
    ("Centro", "64000", "Monterrey", "Nuevo León", "81", ("Padre Mier", "Morelos", "Hidalgo")),
    ("La Paz", "72160", "Puebla", "Puebla", "55", ("Av. Juárez", "31 Poniente", "Teziutlán Norte")),
    ("Centro", "76000", "Querétaro", "Querétaro", "55", ("Madero", "5 de Mayo", "Pasteur")),
    ("García Ginerés", "97070", "Mérida", "Yucatán", "55", ("Calle 25", "Calle 29", "Av. Colón")),
)
_NEIGHBORHOOD_TABLE = tuple(range(16)) * 4 + tuple(range(16, len(NEIGHBORHOODS)))

INTERIORS = ("", "", "", "", "Depto 3", "Int. 4B", "Depto 201", "Casa 2", "Depto 502", "Int. 1")
REFERENCES = (
    "",
    "",
    "",
    "Portón negro",
    "Entre las dos farmacias",
    "Casa azul con reja blanca",
    "Edificio con tienda en planta baja",
    "Tocar el timbre dos veces",
    "Dejar con el portero",
    "Frente al parque",
)

CHANNEL_TABLE = ("whatsapp",) * 11 + ("instagram",) * 6 + ("facebook",) * 3


@dataclass(frozen=True, slots=True)
class Customer:
    channel: str
    platform_id: str
    name: str
    phone: str
    email: str
    address: dict[str, Any]
    folded_name: str  # ``name`` lower-cased without accents


def customer(salt: int, key: int) -> Customer:
    """The synthetic customer number ``key`` (a non-negative integer below 10^8)."""
    h = mix64(salt ^ key)
    g = mix64(h)
    channel = CHANNEL_TABLE[h % len(CHANNEL_TABLE)]
    first_i = (h >> 8) % len(FIRST_NAMES)
    last1_i = (h >> 16) % len(LAST_NAMES)
    last2_i = (h >> 24) % len(LAST_NAMES)
    name = f"{FIRST_NAMES[first_i]} {LAST_NAMES[last1_i]} {LAST_NAMES[last2_i]}"
    hood = NEIGHBORHOODS[_NEIGHBORHOOD_TABLE[(h >> 32) % len(_NEIGHBORHOOD_TABLE)]]
    colonia, postal_code, city, state, area, streets = hood

    # Bijections of the key (multiplier coprime with 10) keep ids unique per channel.
    if channel == "whatsapp":
        platform_id = f"521{area}{(key * 7_919 + 40_537_211) % 10**8:08d}"
        phone = "+" + platform_id
    elif channel == "facebook":
        platform_id = f"2{(key * 982_451_653 + 31_415_926_535) % 10**15:015d}"
        phone = ""
    else:
        platform_id = f"6{(key * 1_000_000_007 + 27_182_818_284) % 10**15:015d}"
        phone = ""

    suffix = g % 100
    sep = "." if g & 1 else "_"
    local = f"{_ASCII_FIRST[first_i]}{sep}{_ASCII_LAST[last1_i]}"
    if (g >> 7) % 3:
        local += str(suffix if suffix > 9 else 80 + suffix)
    email = f"{local}@{_DOMAIN_TABLE[(g >> 8) % len(_DOMAIN_TABLE)]}"

    address = {
        "street": streets[(g >> 16) % len(streets)],
        "house_number": str(1 + (g >> 24) % 1800),
        "interior": INTERIORS[(g >> 36) % len(INTERIORS)],
        "neighborhood": colonia,
        "postal_code": postal_code,
        "city": city,
        "state": state,
        "references": REFERENCES[(g >> 44) % len(REFERENCES)],
    }
    folded_name = f"{_FOLDED_FIRST[first_i]} {_FOLDED_LAST[last1_i]} {_FOLDED_LAST[last2_i]}"
    return Customer(channel, platform_id, name, phone, email, address, folded_name)
