"""Vocabulary of the offline understanding helpers, Spanish and English, in one place.

Everything is written naturally (accents, apostrophes); the matchers normalise both sides
with :func:`tendero.agent.nlu.matching.normalize`, so "envío" also matches "envio" and
"that's it" also matches "thats it".
"""

from __future__ import annotations

# --- language detection -------------------------------------------------------------

SPANISH_WORDS = frozenset(
    """
    hola buenas buenos dias tardes noches quiero quisiera queria necesito tienen tienes tiene
    hay el la los las un una unos unas de del que con para por pero como cuanto cuanta
    cuantos cuantas cuesta precio gracias si no mi mis me te se es esta estan son eso esto
    todo listo ya pagar envio envios domicilio recoger tienda donde cuando horario y o
    favor porfa porfavor dame deme quita quitar mejor solo sin carrito pedido direccion
    calle colonia numero correo claro sale va vale bueno oye disculpa perdon tambien mas
    menos otro otra ese esa este estos esas segundo primero tercero cual dolares pesos
    ahorita aqui alli alla nada nadie alguien persona humano asesor agente hablar gusto
    """.split()
)

ENGLISH_WORDS = frozenset(
    """
    hi hello hey good morning afternoon evening want would like need have has do does you
    your the a an of for with but how much many cost price thanks thank yes no my me it is
    are that this these those all done pay checkout shipping delivery deliver pickup pick up
    store where when hours and or please give remove only without cart order address street
    email sure yeah yep nope another other second first third which dollars what
    whats thats im ill can could get buy some any talk person human agent representative
    just make it one two three is in at to be
    """.split()
)

# --- quantities -------------------------------------------------------------------------

# Multi-word quantity phrases, longest first when matched. Values are units.
QUANTITY_PHRASES: dict[str, int] = {
    "media docena de": 6,
    "media docena": 6,
    "una docena de": 12,
    "una docena": 12,
    "docena de": 12,
    "docena": 12,
    "dos docenas de": 24,
    "dos docenas": 24,
    "un par de": 2,
    "un par": 2,
    "half a dozen": 6,
    "half dozen": 6,
    "a dozen": 12,
    "one dozen": 12,
    "dozen": 12,
    "two dozen": 24,
    "a couple of": 2,
    "a couple": 2,
    "couple of": 2,
    "a pair of": 2,
    "a few": 3,
}

UNITS_ES: dict[str, int] = {
    "un": 1, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6,
    "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12, "trece": 13,
    "catorce": 14, "quince": 15, "dieciseis": 16, "diecisiete": 17, "dieciocho": 18,
    "diecinueve": 19, "veinte": 20, "veintiuno": 21, "veintiun": 21, "veintiuna": 21,
    "veintidos": 22, "veintitres": 23, "veinticuatro": 24, "veinticinco": 25,
    "veintiseis": 26, "veintisiete": 27, "veintiocho": 28, "veintinueve": 29,
}  # fmt: skip
TENS_ES: dict[str, int] = {
    "treinta": 30, "cuarenta": 40, "cincuenta": 50, "sesenta": 60, "setenta": 70,
    "ochenta": 80, "noventa": 90, "cien": 100,
}  # fmt: skip
UNITS_EN: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}  # fmt: skip
TENS_EN: dict[str, int] = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90, "hundred": 100,
}  # fmt: skip

# A number followed by one of these is a count of units: "3 pzas", "2 unidades".
COUNT_UNITS = frozenset(
    """
    pz pza pzas pieza piezas pzs unidad unidades ud uds u pc pcs piece pieces unit units
    item items paquete paquetes pack packs caja cajas box boxes bolsa bolsas bag bags
    botella botellas bottle bottles frasco frascos jar jars lata latas can cans
    """.split()
)

# A number followed by one of these is a size or a measure, never a quantity:
# "Creatina 300 g", "2 kg", "500 ml", "5 lb".
SIZE_UNITS = frozenset(
    """
    g gr grs gramo gramos gram grams kg kgs kilo kilos kilogramo kilogramos mg ml l lt lts
    litro litros liter liters litre litres oz onza onzas lb lbs libra libras pound pounds
    cm mm m mts metro metros inch inches pulgadas ft cc mcg ui iu cal kcal porciones
    servings serv capsulas capsules tabs tabletas tablets softgels gomitas
    pesos peso mxn usd dolares dollars eur euros am pm hrs hr horas hora h min minutos
    """.split()
)

# Digits right after one of these (or at the start) read as a quantity; digits after any
# other word are more likely part of a product name ("Creatina 300") and lose to them.
QUANTITY_LEAD_WORDS = frozenset(
    """
    quiero queria quisiera dame deme damelo ponme pon ponle agrega agregame anade anademe
    mandame necesito ocupo llevo llevare me solo sean mejor cambia cambialo a en y con
    tambien otros otras otro otra mas porfa want need give add get take buy order it just
    only i id like of to please and with also more another make send
    """.split()
)

# A number preceded by one of these is a reference to a listed item ("la 2", "#3").
REFERENCE_MARKERS = frozenset(
    "la el lo numero num no nro number nr opcion option item producto product".split()
)

# --- intents ----------------------------------------------------------------------------

GREETINGS = (
    "hola", "ola", "holi", "holis", "holaa", "buenas", "buen dia", "buenos dias",
    "buenas tardes", "buenas noches", "que tal", "que onda", "saludos", "hi", "hello", "hey", "hiya",
    "good morning", "good afternoon", "good evening", "howdy", "hey there",
)  # fmt: skip

YES_PHRASES = (
    "si", "sí", "sip", "sii", "claro", "claro que si", "va", "sale", "ok", "okay", "okey",
    "oki", "vale", "correcto", "confirmo", "confirmado", "de acuerdo", "esta bien", "perfecto",
    "adelante", "dale", "andale", "órale", "simón", "asi es", "por supuesto", "exacto", "afirmativo", "yes", "yep", "yeah", "yup",
    "sure", "confirm", "confirmed", "correct", "of course", "right", "sounds good",
    "go ahead", "absolutely", "that's right", "alright", "all right",
)  # fmt: skip

NO_PHRASES = (
    "no", "nop", "nope", "nel", "mejor no", "no gracias", "para nada", "negativo", "cancelar",
    "cancela", "cancelalo", "todavia no", "aun no", "nah", "no thanks", "cancel",
    "not really", "no way", "not yet",
)  # fmt: skip

CHECKOUT_PHRASES = (
    "eso es todo", "es todo", "seria todo", "sería todo", "ya es todo", "ya seria todo",
    "nada mas", "nada más", "quiero pagar", "pagar", "como pago", "cómo pago", "terminar",
    "finalizar", "finalizar compra", "proceder al pago", "ya quedo", "ya estuvo", "ya esta",
    "that's it", "that's all", "that is all", "that will be all", "checkout", "check out",
    "that's everything", "that is everything", "nothing else", "es todo lo que",
    "i want to pay", "pay", "proceed to payment", "finish", "i'm done", "im done",
    "all done", "ready to pay", "ready to order", "place the order", "place order",
)  # fmt: skip
# These only count as a checkout trigger when they are (nearly) the whole message.
CHECKOUT_SHORT_WORDS = ("listo", "ya", "done", "ready", "eso", "todo", "finish")

SHOW_CART_PHRASES = (
    "mi carrito", "el carrito", "ver carrito", "ver el carrito", "ver mi carrito",
    "que llevo", "qué llevo", "que tengo en el carrito", "que hay en mi carrito",
    "que he pedido", "mi pedido hasta ahora", "carrito", "show my cart", "show cart",
    "show the cart", "my cart", "view cart", "what's in my cart", "what is in my cart",
    "what do i have", "what have i got", "cart",
)  # fmt: skip

HUMAN_PHRASES = (
    "una persona", "persona real", "un humano", "humano", "asesor", "asesora", "agente",
    "hablar con alguien", "alguien real", "operador", "ejecutivo", "encargado", "vendedor",
    "hablar con el dueño", "talk to a person", "real person", "a person", "human",
    "representative", "agent", "operator", "someone real", "talk to someone", "a real person",
    "speak to someone", "customer service", "atencion al cliente", "comunica con alguien",
    "comunicarme con alguien", "comunicas con alguien", "alguien que me atienda",
    "atencion personalizada", "speak with someone", "talk with someone", "real human",
    "human being", "a real person please",
)  # fmt: skip

SHIPPING_PHRASES = (
    "envio", "envío", "enviar", "envien", "envíen", "envialo", "mandar", "manden",
    "mandenlo", "que me lo manden", "a domicilio", "domicilio", "paqueteria", "por paqueteria",
    "enviamela", "enviamelo", "envíamela", "envíamelo", "mandamela", "mandamelo",
    "a mi casa", "a mi domicilio", "hasta mi casa", "to my house", "to my home",
    "deliver it", "have it delivered", "delivered",
    "shipping", "ship", "ship it", "deliver", "delivery", "send it", "home delivery",
    "mail it", "mandenmela", "mandenmelo", "mandenmelas", "mandenmelos", "envienmela",
    "envienmelo", "envienmelas", "envienmelos", "mandamelas", "mandamelos", "me la mandan",
    "me lo mandan", "me los mandan", "me las mandan", "me la envian", "me lo envian",
    "send them", "ship them", "ship it to me", "deliver them",
)  # fmt: skip
PICKUP_PHRASES = (
    "recoger", "recojo", "recogerlo", "lo recojo", "paso por el", "paso por él", "pasar por",
    "paso a recoger", "en tienda", "en la tienda", "en sucursal", "sucursal", "voy por el",
    "voy por él", "voy a la tienda", "pickup", "pick up", "pick it up", "i'll pick it up",
    "collect", "in store", "in person", "come by", "come get it",
)  # fmt: skip

REMOVE_VERBS = (
    "quita", "quitar", "quitale", "quítale", "quitame", "sacar", "saca", "elimina",
    "eliminar", "borra", "borrar", "sin el", "sin la", "sin los", "sin las", "ya no quiero",
    "no quiero el", "no quiero la", "no quiero los", "no quiero las", "cancela el", "cancela la", "remove", "delete", "take out", "take off",
    "drop", "no more", "get rid of", "without the", "don't want the", "cancel the",
)  # fmt: skip
SET_QUANTITY_PHRASES = (
    "mejor solo", "mejor sólo", "nada mas", "nada más", "solo", "sólo", "mejor",
    "cambia a", "cambialo a", "cámbialo a", "cambiar a", "que sean", "ponle",
    "dejalo en", "déjalo en", "make it", "make that", "change it to", "change to",
    "only", "just", "actually", "instead",
)  # fmt: skip

# Words dropped from the target of a cart edit or a reference descriptor.
FILLER_WORDS = frozenset(
    """
    el la los las lo un una unos unas de del al a the an of por favor please mejor solo
    quiero want i me porfa pls que y and mi my it them those these esos esas ese esa este
    esta estos estas one ones
    """.split()
)

ORDINALS: dict[str, int] = {
    "primero": 1, "primer": 1, "primera": 1, "segundo": 2, "segunda": 2, "tercero": 3,
    "tercer": 3, "tercera": 3, "cuarto": 4, "cuarta": 4, "quinto": 5, "quinta": 5,
    "sexto": 6, "sexta": 6, "septimo": 7, "septima": 7, "octavo": 8, "octava": 8,
    "noveno": 9, "novena": 9, "decimo": 10, "decima": 10, "ultimo": -1, "ultima": -1,
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "last": -1,
}  # fmt: skip

# Side questions: topic -> phrases.
SIDE_QUESTIONS: dict[str, tuple[str, ...]] = {
    "hours": (
        "horario", "horarios", "a que hora", "que horas", "abren", "cierran", "abierto",
        "estan abiertos", "hours", "opening hours", "what time", "open today", "are you open",
        "when do you open", "when do you close", "business hours", "open on", "open sundays",
        "open on sunday", "open tomorrow", "closing time", "abren el", "abren los", "abren hoy",
        "cierran hoy", "abren mañana", "a que hora cierran", "a que hora abren",
    ),
    "location": (
        "donde estan", "dónde están", "donde se ubican", "ubicacion", "ubicación",
        "ubicados", "donde queda", "su direccion", "su dirección", "donde esta la tienda",
        "where are you", "where is the store", "where's the store", "your address",
        "location", "where are you located", "store address",
    ),
    "returns": (
        "devolucion", "devolución", "devoluciones", "devolver", "reembolso", "garantia",
        "garantía", "cambios", "hacer un cambio", "puedo cambiar", "se puede cambiar",
        "puedo cambiarlo", "puedo cambiarlos", "los puedo cambiar", "lo puedo cambiar",
        "si no me queda", "si no me quedan", "returns", "return policy", "return it",
        "can i return", "can i exchange", "doesn't fit", "does not fit",
        "refund", "refunds", "warranty", "exchange",
    ),
    "originality": (
        "original", "originales", "autentico", "auténtico", "autenticos", "genuino",
        "pirata", "clon", "replica", "réplica", "is it original", "authentic", "genuine",
        "fake", "legit", "counterfeit",
    ),
}  # fmt: skip

# Currency words -> ISO code, for "¿cuánto es en dólares?".
CURRENCY_WORDS: dict[str, str] = {
    "dolar": "USD", "dolares": "USD", "dollar": "USD", "dollars": "USD", "usd": "USD",
    "dls": "USD", "dlls": "USD", "euro": "EUR", "euros": "EUR", "eur": "EUR",
    "peso": "MXN", "pesos": "MXN", "mxn": "MXN", "libras esterlinas": "GBP", "gbp": "GBP",
    "pounds sterling": "GBP", "quetzal": "GTQ", "quetzales": "GTQ", "soles": "PEN",
    "reales": "BRL", "canadian dollars": "CAD", "dolares canadienses": "CAD", "cad": "CAD",
    "colombian pesos": "COP", "pesos colombianos": "COP", "cop": "COP",
}  # fmt: skip
PRICE_QUESTION_WORDS = (
    "cuanto", "cuánto", "precio", "cuesta", "sale", "how much", "price", "cost", "in",
    "en", "convert", "convertir",
)  # fmt: skip

# --- addresses --------------------------------------------------------------------------

STREET_TYPES = frozenset(
    """
    calle c av ave avenida avenue blvd boulevard bulevar calzada calz privada priv andador
    carretera carr camino circuito cto cerrada cda prolongacion prol paseo retorno callejon
    street st road rd drive dr lane ln way court ct place pl parkway pkwy highway hwy
    terrace ter trail circle cir square sq
    """.split()
)
NEIGHBORHOOD_MARKERS = ("colonia", "col", "fraccionamiento", "fracc", "barrio", "unidad", "residencial")  # fmt: skip
INTERIOR_MARKERS = (
    "interior", "int", "depto", "dpto", "departamento", "depa", "apartment", "apt", "unit",
    "suite", "ste", "piso", "local", "casa", "torre", "edificio", "edif",
)  # fmt: skip
REFERENCE_MARKERS_ADDRESS = (
    "entre", "referencia", "referencias", "ref", "frente a", "junto a", "a un lado",
    "esquina con", "cerca de", "porton", "portón", "near", "next to", "across from",
    "between", "behind", "detras de", "cross street", "gate",
)  # fmt: skip
HOUSE_NUMBER_MARKERS = ("#", "no", "num", "numero", "número", "nro", "n")

MX_STATES: dict[str, tuple[str, ...]] = {
    "Aguascalientes": ("aguascalientes", "ags"),
    "Baja California": ("baja california", "bc"),
    "Baja California Sur": ("baja california sur", "bcs"),
    "Campeche": ("campeche", "camp"),
    "Chiapas": ("chiapas", "chis"),
    "Chihuahua": ("chihuahua", "chih"),
    "Ciudad de México": ("ciudad de mexico", "cdmx", "cd mx", "cd de mexico", "df", "d f", "mexico df", "distrito federal"),
    "Coahuila": ("coahuila", "coah"),
    "Colima": ("colima",),
    "Durango": ("durango", "dgo"),
    "Estado de México": ("estado de mexico", "edomex", "edo mex", "edo de mexico"),
    "Guanajuato": ("guanajuato", "gto"),
    "Guerrero": ("guerrero", "gro"),
    "Hidalgo": ("hidalgo", "hgo"),
    "Jalisco": ("jalisco", "jal"),
    "Michoacán": ("michoacan", "mich"),
    "Morelos": ("morelos",),
    "Nayarit": ("nayarit", "nay"),
    "Nuevo León": ("nuevo leon", "nl", "n l"),
    "Oaxaca": ("oaxaca", "oax"),
    "Puebla": ("puebla", "pue"),
    "Querétaro": ("queretaro", "qro"),
    "Quintana Roo": ("quintana roo", "q roo", "qroo"),
    "San Luis Potosí": ("san luis potosi", "slp"),
    "Sinaloa": ("sinaloa",),
    "Sonora": ("sonora",),
    "Tabasco": ("tabasco", "tab"),
    "Tamaulipas": ("tamaulipas", "tamps"),
    "Tlaxcala": ("tlaxcala", "tlax"),
    "Veracruz": ("veracruz",),
    "Yucatán": ("yucatan", "yuc"),
    "Zacatecas": ("zacatecas", "zac"),
}  # fmt: skip
# States whose name is also the usual name of their capital city.
MX_STATE_IS_CITY = frozenset(
    {"Ciudad de México", "Aguascalientes", "Campeche", "Chihuahua", "Colima", "Durango",
     "Oaxaca", "Puebla", "Querétaro", "Zacatecas", "Guanajuato", "Tlaxcala"}
)  # fmt: skip

US_STATES: dict[str, str] = {
    "AL": "alabama", "AK": "alaska", "AZ": "arizona", "AR": "arkansas", "CA": "california",
    "CO": "colorado", "CT": "connecticut", "DE": "delaware", "FL": "florida", "GA": "georgia",
    "HI": "hawaii", "ID": "idaho", "IL": "illinois", "IN": "indiana", "IA": "iowa",
    "KS": "kansas", "KY": "kentucky", "LA": "louisiana", "ME": "maine", "MD": "maryland",
    "MA": "massachusetts", "MI": "michigan", "MN": "minnesota", "MS": "mississippi",
    "MO": "missouri", "MT": "montana", "NE": "nebraska", "NV": "nevada",
    "NH": "new hampshire", "NJ": "new jersey", "NM": "new mexico", "NY": "new york",
    "NC": "north carolina", "ND": "north dakota", "OH": "ohio", "OK": "oklahoma",
    "OR": "oregon", "PA": "pennsylvania", "RI": "rhode island", "SC": "south carolina",
    "SD": "south dakota", "TN": "tennessee", "TX": "texas", "UT": "utah", "VT": "vermont",
    "VA": "virginia", "WA": "washington", "WV": "west virginia", "WI": "wisconsin",
    "WY": "wyoming", "DC": "district of columbia", "PR": "puerto rico",
}  # fmt: skip
# Compass suffixes that belong to a US street name ("Pennsylvania Avenue NW").
US_DIRECTIONALS = frozenset({"n", "s", "e", "w", "ne", "nw", "se", "sw", "north", "south", "east", "west"})  # fmt: skip
# Two-letter codes that are also common words: only accepted when written in capitals.
US_AMBIGUOUS_CODES = frozenset({"in", "or", "me", "ok", "hi", "oh", "de", "la", "al", "pa", "co", "id", "ma", "mo", "va", "ga", "ne", "sc", "nd"})  # fmt: skip
