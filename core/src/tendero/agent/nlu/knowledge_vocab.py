"""Word lists of :mod:`tendero.agent.nlu.knowledge`, Spanish and English, as plain data.

Everything is written folded (lower case, no accents); the module folds the shopper's
words and the store's words the same way before looking them up. Inflected forms need
not be listed when the lemmatiser knows them ("cierran" -> cerrar, "boots" -> boot),
but listing the common ones costs nothing and guards against its gaps.
"""

from __future__ import annotations

# --- words that never decide an answer ------------------------------------------------

# Dropped before scoring: articles, pronouns, prepositions, auxiliary verbs, question
# words and chat filler. Question words that carry a topic ("donde", "where") are not
# here: they are topic words below.
STOPWORDS_ES = frozenset(
    """
    a al ante bajo con contra de del desde durante en entre hacia hasta mediante para por
    segun sin sobre tras via el la lo los las un una uno unos unas y e o u ni pero sino que
    q k ke porque pq xq cual cuales quien quienes yo tu usted ustedes ud uds vos ella ellos
    ellas nosotros nosotras me te se nos le les mi mis tus su sus nuestro nuestra nuestros
    nuestras suyo suya este esta estos estas ese esa esos esas aquel aquella eso esto
    aquello ser es son soy eres somos era eran fue fueron sea sean sera seran sido estar
    estan estoy estamos estaba estado haber hay ha han he hemos habia habra tener tiene
    tienen tengo tienes tenemos tendran hacer hace hacen hago hacemos haces poder puede
    pueden puedo podemos podria podrian puedes querer quiero quisiera queria quieres saber
    sabe saben sabes ir va van voy vamos dar dan da doy deber debo debe ver veo como cuando
    cuanto cuanta cuantos cuantas muy mas menos tan tanto tambien ya aun todavia solo si no
    nunca siempre algo alguno alguna algun algunos algunas nada ningun ninguno ninguna todo
    toda todos todas otro otra otros otras mismo misma cada bien mal aqui ahi alla alli aca
    hola buenas buenos buen gracias favor porfa porfis porfavor oye oiga disculpa disculpe
    perdon ok okey vale entonces pues bueno osea neta hoy ahora ahorita manana digo dice
    decir queda quedan quedo quede tal vez quiza quizas asi eh ah oh mmm jaja jeje xd fa despues antes luego
    casi
    """.split()
)

STOPWORDS_EN = frozenset(
    """
    a an the and or but if then so of to in on at by for from with without into onto about
    over under up down out off as than i me my mine you your yours u ur ya yall we us our
    ours they them their it its this that these those he she him her his hers is am are r
    was were be been being isnt arent wasnt werent s re m ve ll d t do does did doing done
    dont doesnt didnt have has had having havent hasnt can could cant couldnt will would
    wont wouldnt shall should may might must what whats which who whom whose when why how
    hows there theres here any some all every each no not nor only just also too very
    really still yet please pls plz thanks thank thx ty hi hello hey ok okay yes yeah yep
    nope get got gonna wanna im ive id youre youve theyre let lets much many more most less
    few one ones like tell want guys today tomorrow now lol after before
    """.split()
)

STOPWORDS = STOPWORDS_ES | STOPWORDS_EN

# Scored with a small weight but never enough on their own: a sentence must share a
# word outside this list (or a topic) with the question to be an answer. "¿Qué venden
# en la tienda?" says nothing the store could look up.
GENERIC_WORDS = frozenset(
    """
    tienda tiendas store stores shop shops negocio business local empresa company producto
    productos product products articulo articulos item items cosa cosas thing things stuff
    vender venden vendemos vende sell sells selling sold comprar compro compra compras buy
    buying bought purchase ofrecer ofrecen ofrecemos offer offers manejar manejan manejamos
    carry cliente clientes customer customers servicio servicios service services politica
    politicas policy policies informacion info information pregunta preguntas question
    questions duda dudas know necesitar necesito need ayuda help pedido pedidos order
    orders ordenar opcion opciones option options tipo tipos type kind forma manera way
    ustedes something anything gente people persona usually normalmente good bueno buena
    nice great
    """.split()
)

# Dropped inside a phrase match, so "tarjeta de regalo" also matches "tarjeta regalo"
# and "tarjetas para regalo". They are all stopwords as well.
PHRASE_FILLERS = frozenset(
    "de del el la los las un una al en para por of the a an for in on at to".split()
)

# Phrases said to be polite, not to ask: consumed and dropped ("buenos días" is a
# greeting, not a question about days).
DROP_PHRASES = (
    "buenos dias, buenas tardes, buenas noches, good morning, good afternoon, "
    "good evening, de nada, thank you, me gustaria saber, quisiera saber, una pregunta, "
    "a question, quick question, do you have, o sea"
)

# --- topics -----------------------------------------------------------------------------

# Topic -> the words and phrases, in either language, that name it. A question and a
# sentence meet on a topic even when they share no word ("leather" ~ "piel"). A word
# may belong to more than one topic ("piel" is leather and skin); a phrase is matched
# before its words, so "gift card" is not about cards and "sin granos" is about grain.
TOPICS: dict[str, str] = {
    # Returns, refunds and exchanges.
    "returns": (
        "devolucion, devoluciones, devolver, devuelven, devuelvo, regresar dinero, "
        "reembolso, reembolsos, reembolsar, reembolsan, cambio, cambios, cambiar, cambian, "
        "return, returns, returned, returning, refund, refunds, refunded, exchange, "
        "exchanges, exchanged, money back"
    ),
    "warranty": "garantia, garantias, garantizado, warranty, warranties, guarantee, guaranteed",
    # Genuine, fake or synthetic: every sentence about authenticity answers "is it real?".
    "authentic": (
        "genuino, genuina, genuinos, genuinas, autentico, autentica, autenticos, "
        "autenticas, original, originales, real, reales, verdadero, verdadera, legitimo, "
        "legitima, pirata, clon, replica, imitacion, falso, falsa, sintetico, sintetica, "
        "genuine, authentic, legit, fake, counterfeit, knockoff, replica, imitation, "
        "synthetic, faux"
    ),
    "leather": "piel, pieles, cuero, cueros, leather, leathers",
    "skin": "piel, cutis, skin, skincare, dermatologico, dermatologically",
    "oily": "grasa, graso, grasosa, oily, oil free, libre de grasa",
    "dry": "seca, seco, resequedad, dry, dryness",
    "sensitive": "sensible, sensibles, sensitive",
    "waterproof": (
        "impermeable, impermeables, contra agua, resistente al agua, waterproof, "
        "water resistant, water proof, water repellent"
    ),
    "material": "material, materiales, materials, fabric, tela",
    "handmade": (
        "artesanal, artesanales, hecho a mano, hechos a mano, hecha a mano, handmade, "
        "hand made, made by hand, handcrafted, artisan"
    ),
    "origin": "fabricado, fabricados, importado, importados, imported, nacional",
    "size": (
        "talla, tallas, tamano, tamanos, medida, medidas, numero de calzado, calza, calzan, "
        "horma, no me queda, no me quedan, size, sizes, sizing, fit, fits, doesnt fit"
    ),
    "width": "ancho, ancha, anchos, wide, width",
    "sole": "suela, suelas, sole, soles, outsole",
    "care": (
        "cuidado, cuidados, cuidar, limpiar, limpieza, lavar, lavable, care, clean, "
        "cleaning, wash, washable"
    ),
    # When the store is open. Day names and their short forms, both languages.
    "hours": (
        "horario, horarios, hora, horas, abrir, abren, abre, abierto, abiertos, abrimos, "
        "cerrar, cierran, cierra, cerrado, cerrados, cerramos, atencion, hours, hour, open, "
        "opens, opening, close, closes, closing, closed, schedule, what time, business hours"
    ),
    "monday": "lunes, lun, monday, mon",
    "tuesday": "martes, mar, tuesday, tue, tues",
    "wednesday": "miercoles, mie, mier, wednesday, wed",
    "thursday": "jueves, jue, thursday, thu, thurs",
    "friday": "viernes, vie, friday, fri",
    "saturday": "sabado, sabados, sab, saturday, saturdays, sat, fin de semana, weekend",
    "sunday": "domingo, domingos, dom, sunday, sundays, sun, fin de semana, weekend",
    "holiday": "feriado, feriados, festivo, festivos, holiday, holidays, navidad, christmas",
    # Where the store is.
    "where": (
        "donde, donde queda, donde quedan, ubicacion, ubicados, ubicada, ubicado, direccion, "
        "sucursal, sucursales, "
        "tienda fisica, local fisico, mapa, where, located, location, locations, address, "
        "branch, branches, physical store, map, como llego, how to get there"
    ),
    "parking": "estacionamiento, estacionar, aparcamiento, parking, park",
    # Shipping and delivery.
    "shipping": (
        "envio, envios, enviar, envian, enviamos, envia, mandar, mandan, mandamos, manda, "
        "entrega, entregas, entregar, entregan, entregamos, domicilio, paqueteria, "
        "paquete, repartidor, shipping, ship, ships, shipped, delivery, deliveries, "
        "deliver, delivers, delivered, send, sends, courier, mail, dhl, fedex, usps, "
        "estafeta"
    ),
    "delay": (
        "tardar, tarda, tardan, demora, demorar, demoran, llegar, llega, llegan, plazo, "
        "habil, habiles, cuanto tiempo, arrive, arrives, arrival, how long, lead time, "
        "business day, business days, same day, mismo dia, rastreo, tracking"
    ),
    "international": (
        "internacional, internacionales, extranjero, fuera del pais, fuera de mexico, "
        "otros paises, "
        "international, abroad, overseas, worldwide, other countries"
    ),
    "nationwide": (
        "toda la republica, todo el pais, todo mexico, nacional, nationwide, all 50 states, "
        "anywhere in the us, contiguous"
    ),
    "pickup": (
        "recoger, recojo, recogen, recoge, recoja, retirar, retiro, pickup, "
        "pick up, picking up, collect, curbside"
    ),
    "free": "gratis, gratuito, gratuita, sin costo, free, free of charge, no charge",
    # What something costs. Product prices are the catalog's: a question about a price
    # and nothing else is not answered from the texts (see MODIFIER_TOPICS).
    "price": (
        "precio, precios, cuesta, cuestan, costo, costos, cobran, cobrar, cuanto sale, "
        "price, prices, cost, costs, charge, charges, fee, fees, how much"
    ),
    "minimum": "minimo, minima, minimum, min order",
    # Paying.
    "pay": (
        "pago, pagos, pagar, paga, pagas, pagan, pagamos, pague, aceptan, aceptamos, acepta, pay, pays, "
        "paying, payment, payments, paid, accept, accepts, accepted"
    ),
    "card": (
        "tarjeta, tarjetas, credito, debito, visa, mastercard, amex, card, cards, credit, debit"
    ),
    "cash": "efectivo, cash, contra entrega, contraentrega, cash on delivery, cod",
    "transfer": (
        "transferencia, transferencias, deposito, depositos, spei, clabe, transfer, "
        "transfers, bank transfer, wire, deposit, zelle"
    ),
    "installments": (
        "meses sin intereses, msi, cuotas, a plazos, parcialidades, installments, "
        "payment plan, afterpay, klarna"
    ),
    "paypal": "paypal, mercado pago, mercadopago, stripe, apple pay, google pay",
    "invoice": "factura, facturas, facturar, facturan, facturamos, cfdi, rfc, fiscal, invoice, invoices, tax invoice",
    "receipt": "ticket, recibo, comprobante, receipt, receipts",
    "tax": "iva, impuesto, impuestos, tax, taxes, sales tax",
    "giftcard": (
        "tarjeta de regalo, tarjetas de regalo, certificado de regalo, gift card, gift cards, "
        "giftcard, giftcards, gift certificate, gift voucher"
    ),
    "giftwrap": (
        "envoltura, envolver, envuelven, envolvemos, envoltorio, gift wrap, gift wrapping, "
        "wrap, wrapping"
    ),
    "gift": "regalo, regalos, obsequio, gift, gifts",
    "discount": (
        "descuento, descuentos, promocion, promociones, promo, promos, oferta, ofertas, "
        "rebaja, rebajas, cupon, cupones, discount, discounts, deal, deals, coupon, "
        "coupons, promo code"
    ),
    "wholesale": "mayoreo, mayorista, mayoristas, wholesale, bulk, distribuidor, reseller",
    "loyalty": (
        "tarjeta de cliente, cliente frecuente, puntos, membresia, lealtad, loyalty, "
        "loyalty card, rewards, reward points, membership"
    ),
    "custom": (
        "personalizado, personalizados, personalizada, personalizar, encargo, encargos, "
        "encargar, por encargo, pedido especial, custom, customized, personalized, "
        "special order, made to order, preorder"
    ),
    "advance": "anticipacion, anticipo, adelantado, antelacion, advance, in advance, ahead, deposit",
    # Languages, contact.
    "speak": "hablar, hablan, habla, hablamos, speak, speaks, spoken",
    "spanish": "espanol, castellano, spanish",
    "english": "ingles, english",
    "phone": "telefono, tel, celular, whatsapp, llamar, phone, call",
    "email": "correo, email, e mail, mail",
    # Food and ingredients (bakeries, pet food, cosmetics).
    "ingredients": "ingrediente, ingredientes, ingredient, ingredients, contiene, contains",
    "vegan": ("vegano, vegana, veganos, veganas, vegan, vegans, plant based, a base de plantas"),
    "vegetarian": "vegetariano, vegetariana, vegetarianos, vegetarian",
    "crueltyfree": (
        "cruelty free, crueltyfree, libre de crueldad, sin crueldad, crueldad animal, "
        "no testeado en animales, probado en animales, probados en animales, testeado, "
        "tested on animals, not tested on animals, leaping bunny"
    ),
    "grainfree": (
        "sin granos, libre de granos, sin cereales, grano, granos, cereal, cereales, "
        "grain free, grainfree, grain, grains"
    ),
    "gluten": "gluten, sin gluten, libre de gluten, gluten free, celiaco, celiacos, celiac, tacc",
    "sugar": "azucar, azucares, sin azucar, sugar, sugar free, endulzante, sweetener",
    "dairy": "lactosa, lacteos, lacteo, leche, dairy, lactose, milk",
    "egg": "huevo, huevos, egg, eggs",
    "nuts": "nuez, nueces, cacahuate, cacahuates, mani, almendra, almendras, nut, nuts, peanut, peanuts, almond, almonds",
    "allergy": "alergia, alergias, alergico, alergeno, alergenos, allergy, allergies, allergic, allergen, allergens",
    "preservatives": "conservador, conservadores, conservante, conservantes, preservative, preservatives",
    "organic": "organico, organica, organicos, organicas, ecologico, organic",
    "fresh": "fresco, fresca, frescos, frescas, recien horneado, horneado, hornea, hornear, fresh, baked, freshly baked",
    "daily": "diario, diaria, diariamente, todos los dias, cada dia, daily, every day",
    "expiry": (
        "caducidad, caduca, caducan, vencimiento, vence, vencen, consumo preferente, "
        "expiration, expiry, expire, expires, expiring, best by, best before, shelf life"
    ),
    "paraben": "parabeno, parabenos, paraben, parabens",
    "fragrance": "fragancia, perfume, aroma, olor, fragrance, scent, unscented",
    "sample": "muestra, muestras, probador, probadores, tester, testers, sample, samples",
    "shade": "tono, tonos, shade, shades",
    "dog": "perro, perros, perrito, canino, dog, dogs, puppy, puppies, cachorro, cachorros",
    "cat": "gato, gatos, gatito, felino, cat, cats, kitten, kittens",
    "vet": "veterinario, veterinaria, veterinarios, vet, vets, veterinarian",
    # Hardware store services.
    "cut": "cortar, corte, cortamos, cortan, cut, cuts, cutting",
    "keys": "llave, llaves, duplicado, duplicados, copia de llave, key, keys, key copy",
    "paintmatch": "igualar color, igualamos colores, igualacion, color matching, match paint, color match",
    "rent": "renta, rentar, rentan, alquiler, alquilar, alquilan, rent, rental, rentals, hire",
    "install": "instalacion, instalar, instalan, instalamos, install, installation, installing, installer",
    # The day unit, week and month, for "how many days".
    "day": "dia, dias, day, days",
    "week": "semana, semanas, week, weeks",
    "month": "mes, meses, month, months",
    "year": "ano, anos, year, years",
}

# Topics that narrow a question rather than say what it is about. Any other topic of a
# question must appear somewhere in the store's texts, or the question is not answered:
# "is the leather real?" to a cosmetics shop that never mentions leather gets no
# answer, while "do you open on Sundays?" is answered by "Monday to Saturday 9-6".
MODIFIER_TOPICS = frozenset(
    """
    monday tuesday wednesday thursday friday saturday sunday holiday day week month year
    free international nationwide daily price
    """.split()
)
