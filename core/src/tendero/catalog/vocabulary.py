"""The words product search knows: stopwords and a small bilingual synonym map.

Plain data, kept apart from the matching code so a shop (or a later plugin) can read and
extend it. Words are written naturally (accents allowed, any case); :mod:`.text` folds
and stems them once at import time, so "Proteínas" here and "proteina" in a query end up
as the same key.
"""

from __future__ import annotations

# Words that carry no product meaning in a shopping question, in Spanish and English.
# "do you have chocolate protein?" -> "chocolate protein".
STOPWORDS: frozenset[str] = frozenset(
    """
    a al algo alguien algun alguna algunas alguno algunos ahi alla aqui asi aun
    buen buena buenas bueno buenos busco buscando buscar cual cuales cuanto cuanta cuantos
    cuantas cuesta cuestan costo como con conmigo contigo da dame dan de del desde donde
    el ella ellos en entre era es esa esas ese eso esos esta estan estas este esto estos
    favor gracias gusta gustaria ha hay hola hay la las le les lo los mas me mi mis mucho muy
    necesito ni no nos o otra otro otros para pero poco por porfa porfavor porque precio
    precios puedo puedes que quiero quisiera quiere se sea ser si sin sobre son su sus
    tambien te tendras tendran tenes tiene tienen tienes tu tus tengo un una unas uno unos
    vale valen vendes venden ver y ya yo
    about all an and any anything are available be buy can could cost costs did do does
    for from get give got has have hello hey hi how i im in is it its looking me much my
    need of on one ones or please price prices sell sells show some something tell than
    thanks that the them there these this those to want wanna what which with would you
    your like
    """.split()
)

# Groups of words that mean the same thing to a shopper. The first word of a group is its
# key. Spanish gender and number forms that the stemmer does not merge are listed too
# (negro/negra). Keep groups small and unambiguous: a wrong synonym makes search worse.
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    # flavors and foods
    ("chocolate", "choco", "cocoa", "cacao"),
    ("vanilla", "vainilla"),
    ("strawberry", "fresa", "frutilla"),
    ("coffee", "café"),
    ("cookie", "galleta"),
    ("cream", "crema"),
    ("banana", "plátano", "platano"),
    ("lemon", "limón"),
    ("orange", "naranja"),
    ("mint", "menta"),
    ("peanut", "cacahuate", "maní"),
    ("coconut", "coco"),
    ("honey", "miel"),
    ("milk", "leche"),
    ("flavor", "flavour", "sabor"),
    ("unflavored", "natural", "neutral"),
    # goods
    ("protein", "proteína"),
    ("creatine", "creatina"),
    ("vitamin", "vitamina"),
    ("supplement", "suplemento"),
    ("powder", "polvo"),
    ("bar", "barra", "barrita"),
    ("bottle", "botella", "termo"),
    ("shaker", "mezclador"),
    ("cup", "vaso", "taza", "mug"),
    ("bag", "bolsa", "mochila", "backpack"),
    ("shirt", "camisa", "playera", "camiseta", "t-shirt", "tshirt", "remera"),
    ("hoodie", "sudadera"),
    ("jacket", "chamarra", "chaqueta"),
    ("pants", "pantalón", "pantalones", "trousers"),
    ("shorts", "short", "bermuda"),
    ("shoe", "zapato", "tenis", "sneaker"),
    ("sock", "calcetín", "calceta"),
    ("cap", "gorra", "gorro", "hat", "sombrero"),
    ("glove", "guante"),
    ("towel", "toalla"),
    ("rope", "cuerda", "soga"),
    ("band", "banda", "liga"),
    ("jump", "saltar"),
    ("bar", "barra"),
    ("cake", "pastel"),
    ("pie", "pay", "tarta"),
    ("cookie", "galleta"),
    ("box", "caja"),
    ("light", "luz", "lámpara", "lamp"),
    ("gift", "regalo"),
    ("pack", "paquete", "kit"),
    # everyday goods of other trades, so a shopper may name them in either language
    ("boot", "bota", "botin"),
    ("sandal", "sandalia", "huarache"),
    ("slipper", "pantufla"),
    ("dress", "vestido"),
    ("skirt", "falda"),
    ("belt", "cinturon"),
    ("paint", "pintura"),
    ("roller", "rodillo"),
    ("brush", "brocha", "cepillo"),
    ("screw", "tornillo", "bolt"),
    ("nut", "tuerca"),
    ("washer", "rondana", "arandela"),
    ("nail", "clavo"),
    ("drill", "taladro"),
    ("bit", "broca"),
    ("hammer", "martillo"),
    ("pliers", "pinzas", "pinza"),
    ("wrench", "llave"),
    ("screwdriver", "desarmador", "destornillador"),
    ("hose", "manguera"),
    ("pipe", "tubo", "tuberia"),
    ("tape", "cinta"),
    ("glue", "pegamento", "adhesivo"),
    ("sandpaper", "lija"),
    ("stainless", "inoxidable"),
    ("galvanized", "galvanizado"),
    ("copper", "cobre"),
    ("steel", "acero"),
    ("wood", "madera"),
    ("concrete", "concreto", "cemento"),
    ("bucket", "cubeta"),
    ("gallon", "galon"),
    ("lipstick", "labial"),
    ("foundation", "base"),
    ("concealer", "corrector"),
    ("serum", "suero"),
    ("moisturizer", "hidratante"),
    ("sunscreen", "bloqueador"),
    ("soap", "jabon"),
    ("shampoo", "champu"),
    ("mascara", "rimel"),
    ("powder", "polvo"),
    ("sponge", "esponja"),
    ("food", "alimento", "croqueta", "comida"),
    ("treat", "premio", "golosina"),
    ("litter", "arena"),
    ("leash", "correa"),
    ("collar", "collar"),
    ("bowl", "plato", "tazon"),
    ("toy", "juguete"),
    ("can", "lata"),
    ("dog", "perro", "perrito"),
    ("cat", "gato", "gatito"),
    ("puppy", "cachorro"),
    ("chicken", "pollo"),
    ("beef", "res"),
    ("lamb", "cordero"),
    ("salmon", "salmon"),
    ("rice", "arroz"),
    ("bean", "grano"),
    ("ground", "molido"),
    ("decaf", "descafeinado"),
    ("roast", "tostado"),
    # attributes
    ("size", "talla", "tamaño"),
    ("color", "colour"),
    ("large", "grande", "big"),
    ("small", "chico", "chica", "pequeño", "pequeña"),
    ("medium", "mediano", "mediana"),
    ("black", "negro", "negra"),
    ("white", "blanco", "blanca"),
    ("red", "rojo", "roja"),
    ("blue", "azul"),
    ("green", "verde"),
    ("yellow", "amarillo", "amarilla"),
    ("pink", "rosa", "rosado", "rosada"),
    ("purple", "morado", "morada"),
    ("gray", "grey", "gris"),
    ("silver", "plata", "plateado", "plateada"),
    ("gold", "dorado", "dorada"),
    ("brown", "marrón"),
    ("men", "man", "hombre", "caballero"),
    ("women", "woman", "mujer", "dama"),
    ("kid", "child", "children", "niño", "niña", "infantil"),
)
