"""Emergencies in the caller's own words: fire, smoke or gas, a fall, someone unconscious or not
answering, a flood, violence, a threat — whatever the flows' examples say.

A miss can cost a life and a false alarm costs one sentence, so this is a recall-first net of
word patterns over the folded utterance (`simplify`: lower case, no accents), checked before
anything else. A few phrases that share the words but are everyday town-hall business ("le feu
rouge est en panne", "brûler mes déchets verts", "zone inondable") are excluded, and only when
they are the only alarming words of the utterance.
"""

from __future__ import annotations

import re

from rapidfuzz.distance import Levenshtein

from callbot.dialog.normalize import simplify
from callbot.dialog.normalize_phonetic import phonetic_key

# One pattern per line, "kind: regex" on simplified text; the kind is reported as the reason.
_ALARM_TEXT = r"""
fire: \b(le|du|au|un) feu\b
fire: \bincendies?\b
fire: \bflammes?\b
fire: \bbrul(e|ent|er|ait|ee|es)\b
fire: \bpris feu\b
fire: \ben feu\b
fire: \bcrame\b
fire: \bexplos(e|ion)\b
fire: \b(sent|senti|odeur de) (le |du )?brule\b
smoke_gas: \bfumees?\b
smoke_gas: \benfume\w*
smoke_gas: \b(ca|ils?|elles?) fume (partout|beaucoup|noir)\b
smoke_gas: \b(odeurs?|fuite|sent|senti|sens|sentir) (de |du |le )?gaz\b
smoke_gas: \bmonoxyde\b
smoke_gas: \bintoxi\w*
fall: \b(suis|est|es|sont|etai[st]|ete) tombee?s?\b
fall: \bfait une chute\b
fall: \bperdu l equilibre\b
fall: \b(se|me|te) (relever|lever)\b
fall: \b(allongee?s?|etendue?s?|couchee?s?|reste|est) (par terre|au sol|a terre)\b
fall: \b(allongee?s?|etendue?s?|couchee?s?|reste|est) sur le (sol|carrelage|parquet)\b
fall: \bne (se )?releve\b
fall: \bchute (dans|de l escalier|chez)\b
fall: \b(peut|pouvait|peux|arrive|arrivait) (pas|plus) (a )?bouger\b
fall: \bbouger d un millimetre\b
unconscious: \binconscien\w*
unconscious: \bevanoui\w*
unconscious: \bne (me |nous |lui )?repond (plus|pas)\b
unconscious: \b(aucune|pas de) (reaction|reponse)\b
unconscious: \bne reagit (plus|pas)\b
unconscious: \bne respire (plus|pas|mal)\b
unconscious: \brespire (plus|mal|difficilement)\b
unconscious: \bmalaise\b
unconscious: \b(se sent|se sentir|me sens|me sentir|se sentait) (tres )?mal\b
unconscious: \b(perdu|perte de|sans) connaissance\b
unconscious: \bne bouge (plus|pas)\b
unconscious: \b(crise|arret) cardiaque\b
unconscious: \binfarctus\b
unconscious: \bavc\b
unconscious: \bconvuls\w*
unconscious: \bepilep\w*
unconscious: \betouff\w*
unconscious: \bsaign\w*
unconscious: \bblesse(e|s|es)? (grave|gravement|a la tete|partout)\b
unconscious: \best (grievement |gravement )?blessee?\b
unconscious: \bnoy(e|ee|ade|er)\b
unconscious: \bdouleur (dans|a) la poitrine\b
unconscious: \bs est effondre\w*
unconscious: \bne se reveille (plus|pas)\b
unconscious: \boverdose\b
unconscious: \bpas de pouls\b
flood: \binond(e|ee|es|ees|er|ait|ation|ations)\b
flood: \beau\b(\s\w+){0,4}\s(mont\w*|rentr\w*|entr\w*|remont\w*|engouffr\w*|envahi\w*|debord\w*)
flood: \beau\b(\s\w+){0,4}\scoul\w* (partout|du plafond|en continu|dans)
flood: \b(de l eau|eau) partout\b
flood: \bsous l eau\b
flood: \bune mare dans\b
flood: \bcrue\b
flood: \bcoulee de boue\b
violence: \bfrapp\w*
violence: \b(me|la|le|nous|les) bat\b
violence: \bbattu\b
violence: \bviolen\w*
violence: \bagress\w*
violence: \bcoups?\b
violence: \bbagarre\w*
violence: \btabass\w*
violence: \betrangl\w*
violence: \bhurl\w*
violence: \b(des )?cris\b
violence: \btout (casser|detruire|casse)\b
violence: \bcasse tout\b
violence: \btape dessus\b
violence: \bviol\b
violence: \bcambriol\w*
violence: \bintrus\b
violence: \bforcer? (ma|la|notre) (porte|fenetre)\b
violence: \b(rentrer|entrer) chez (moi|nous)\b
violence: \bvoleurs? (est|sont|chez|dans)\b
violence: \bsequestr\w*
violence: \ba ete enleve\w*
violence: \benlevement d enfant\b
threat: \bmenac\w*
threat: \bcouteau\b
threat: \barmes?\b
threat: \bfusil\b
threat: \bpistolet\b
threat: \btuer\b
threat: \bsuicid\w*
threat: \ben finir\b
threat: \bpasser a l acte\b
threat: \bs en prend\w* a (moi|nous|elle|lui|mes|ma|mon)\b
threat: \bpeur (qu il|qu elle|de lui|pour (ma|sa) vie|pour (elle|lui|moi))\b
threat: \ben danger\b
threat: \bau secours\b
threat: \ba l aide\b
threat: \baidez moi\b
threat: \bbesoin d aide\b
threat: \burgen(ce|t)\b
threat: \bpompiers?\b
threat: \bsamu\b
threat: \bambulance\b
threat: \b(y a|ya|y avoir|eu) (eu )?un (gros |grave )?accident\b
threat: \baccident (grave|devant|ici|juste)\b
threat: \baccident de \w+ (devant|ici|juste|dans ma rue)\b
# -- categories added for words nobody on the project wrote (issue 10 item 5): what burns or smells,
# who is down and in what state, where the water is, what the attacker does or holds, self-harm,
# a child where a child should not be. Written by category, checked on the dev sets.
fire: \bfeux\b
fire: \b(ca|il|elle) (brule|crame|fume)\b
fire: \b(odeurs?|sent|senti|sentait|sens) (de |du |le |la )?(brule|roussi|cram\w*|fumee|plastique brule)\b
fire: \bfume noire\b
fire: \bbrulures?\b
fire: \bexplose\w*\b
fire: \b(detecteurs?|alarmes?) (\w+ ){0,4}(sonne|sonnent|declench\w*|hurle|bip\w*|retenti\w*)
smoke_gas: \b(odeur|sent|senti|sentait|pue|fuite)\w*\b(\s\w+){0,5}\sgaz\b
smoke_gas: \bgaz\b(\s\w+){0,4}\s(odeur|fuite|sifflement|siffle)\w*
smoke_gas: \b(oeufs? pourris?|soufre)\b
smoke_gas: \birrespirable\b
smoke_gas: \basphyxi\w*
fall: \btomb(e|ee|es|ees|er|ait|aient)\b(\s\w+){0,3}\s(par terre|au sol|a terre|dans|de|du|sur le (sol|carrelage|trottoir|dos))\b
fall: \b(lourde|grosse|mauvaise|grave) chute\b
fall: \b(a|ai|est) (glisse|chute|chu)\b
fall: \bglissade\b
fall: \bchoit\b
fall: \b(par|a|au) (terre|sol)\b
fall: \bcoince\w* (entre|sous|dans)\b
fall: \b(jambes?|bras|hanche|femur|col du femur|cheville|poignet|crane|cotes?|nuque) (\w+ ){0,2}(casse\w*|fractur\w*)
fall: \b(casse|cassee|fractur\w*) (\w+ ){0,2}(jambe|bras|hanche|femur|col|cheville|poignet|crane|nuque)\b
fall: \bfracture\b
unconscious: \bne (me |nous |lui )?repond (ni|plus)\b
unconscious: \bni au telephone\b
unconscious: \bvolets (\w+ ){0,3}fermes\b
unconscious: \b(plus|pas|aucune) de nouvelles?\b
unconscious: \bboite aux lettres (\w+ )?pleine\b
unconscious: \bcoeur (\w+ ){0,2}arrete\b
unconscious: \b(massage|reanimation|defibrillateur)\w*
unconscious: \b(s il|si elle|qu il|qu elle) respire\b
unconscious: \b(il|elle) (est|etait|semble) (inerte|inanime\w*|tout blanc|toute blanche|bleu|bleue)\b
unconscious: \b(semble|semblait|a l air|on dirait|il etait|elle etait|croire) (qu il est |qu elle est )?(mort|morte)\b
unconscious: \binerte\b
unconscious: \binanime\w*
unconscious: \bs (affaiss|ecroul|effondr)\w*
unconscious: \bdetresse\b
unconscious: \b(va|allait) (pas|plus) bien (du tout)?\b
unconscious: \b(me|se|te) sen\w* (\w+ ){0,4}mal\b
unconscious: \bsang\b
unconscious: \bblesse\w*
unconscious: \bbrancard\b
flood: \bmontee des eaux\b
flood: \b(ca|l eau|elle) mont(e|ait|ent) (\w+ ){0,3}(vite|rapidement|rapidite|partout|encore|de plus en plus)\b
flood: \b(cm|centimetres?|metres?|m) (\d+ )?(d eau|dans la maison|dans le sous sol|dans la cave)\b
flood: \b(riviere|fleuve|ruisseau|canal|lac|egouts?) (\w+ ){0,3}(deborde|debordait|monte|sort de son lit)\w*
flood: \bdebord(e|ait|ent|er)\b
flood: \bl eau (\w+ ){0,3}(haute|affluer|afflue|arrive|coule|rentre|penetre)\w*
flood: \bfuites? d eau (importantes?|partout|enormes?)\b
flood: \bencercle\w* (par l eau|par les eaux)?
flood: \b(les )?pieds dans l eau\b
flood: \bcave (\w+ ){0,2}pleine\b
violence: \bbat (sa|ma|ta|son|mon|ses|mes|leur|leurs) \w+
violence: \bbattue?s?\b
violence: \bgifl\w*
violence: \bpoignard\w*
violence: \bracket\w*
violence: \bbraqu\w*
violence: \bvide tes poches\b
violence: \bveulent? (du fric|de l argent|mon sac|mon portable|ton)\b
violence: \bfaire planter\b
violence: \bse battent\b
violence: \bcri(er|e|ent|ait|aient)\b
threat: \b(flingue|cutter|carabine|revolver|machette|hache|batte)\b
threat: \bpetard\b
threat: \bbouge pas\b
threat: \b(y passer|me faire la peau|te faire la peau)\b
threat: \b(tres|vraiment|trop) peur\b
threat: \bj ai (eu )?peur\b
threat: \bmenace\w*
suicide: \b(envie de|veux|voudrais|vais|laisser|laisse) mourir\b
suicide: \bfoutre en l air\b
suicide: \bdisparaitre\b
suicide: \bmieux sans moi\b
suicide: \b(plus|pas) (envie|gout) (de vivre|a rien)\b
suicide: \ba quoi bon\b
suicide: \bmettre fin a (mes|ses|tes|mes) jours\b
suicide: \bfin a ce cauchemar\b
suicide: \b(me|se|te) faire du mal\b
suicide: \bidees? noires?\b
suicide: \b(me|se|te) (pendre|jeter|tailler|scarifier)\b
suicide: \bscarifi\w*
suicide: \bn en peu(x|t) plus\b
suicide: \bplus la force\b
child: \b(enfant|bebe|petit|petite|gamin|gamine|garconnet|fillette)s? (\w+ ){0,6}(seul|seule|seuls)\b(\s\w+){0,6}\s(balcon|fenetre|rue|voiture|route|eau|vide)\b
child: \bdans le vide\b
child: \brambarde\b
child: \bsuspendu\w* (a|au|dans|par) (un |une |le |la |sa )?(balcon|vide|fenetre|rambarde|bras|main|poignet)\b
child: \benferme\w* dans (la|une|sa) voiture\b
child: \bmaltrait\w*
child: \b(enfant|bebe|fils|fille|petit|petite) (\w+ ){0,2}(a disparu|disparu|introuvable|fugue)\b
alarm: \bsecours\b
alarm: \b(venez|faites|depechez vous|vite) vite\b
alarm: \bvite (vite|venez|aidez|s il vous plait|il faut)\b
alarm: \b(venez|envoyez|envoyer) (\w+ ){0,2}(vite|quelqu un|les pompiers|la police|les secours|une ambulance)\b
alarm: \b(police|gendarmerie|gendarmes) (secours|vite)\b
alarm: \b112\b
"""
# Town-hall business that shares those words; such a match does not count as an alarm.
_NOT_ALARM_TEXT = r"""
\bfeux? (rouges?|tricolores?|de signalisation|d artifice|de camp|de la saint jean|de cheminee)\b
\bcoups? de (fil|telephone|main|pouce|coeur)\b
\b(cris|hurlements?) (des |d )?(enfants|chiens?|animaux|coqs?)\b
\bbesoin d aide (pour|a|administrative|financiere|sociale)\b
\beau (potable|chaude|froide)\b
\bfacture\w* d eau\b
\bbrul\w* (des|les|mes|nos|de|du) (dechets|feuilles|herbes|vegetaux|branches)\b
\b(zone|terrain|secteur)s? inondables?\b
\brisques? (d |naturels?)?inondation\b
\bpermis de (port d )?armes?\b
\barme(s)? (de chasse|a feu declaree?s?)\b
\bdetention d armes?\b
\bacte de deces\b
\bdeclar\w* (un |le )?deces\b
\bcoups? de (fil|telephone|main|pouce)\b
\bchute de (neige|feuilles|cheveux)\b
\bcertificat de (deces|non gage)\b
\burgence (de la |du )?(passeport|carte|titre|rdv|rendez ?vous)\w*
\bpasseport (en )?urgence\b
\bcarte (d )?identite (en )?urgence\b
\bassurance (degats|habitation)\b
\bconstat (amiable|d accident)\b
\baccident du travail\b
\bcontraception d urgence\b
\btombee?s? (en panne|malade|amoureu\w*|d accord)\b
\btombee?s? sur (un|une|le|la|les) (article|courrier|lettre|annonce)\b
\b(arbre|branche|branches|panneau|poteau|feuilles|tuiles?) (est |sont )?tombee?s?\b
\b(don|prise|analyse)s? d(e|u) sang\b
\ba l aide d(e|u|es)\b
\burgences? (de l |d )?hopital\b
\b(aide|aides|allocation|hebergement|logement|procedure|fonds) (\w+ )?d urgence\b
\bmenace de tomber\b
\b(panneaux|poteaux|arbres) (\w+ ){0,3}tombes\b
\b(poubelles?|containers?|conteneurs?|bacs?) (\w+ ){0,2}debord\w*
\b(dechets|ordures|papiers|megots|detritus|sacs|encombrants|crottes|tags) (\w+ ){0,4}(par terre|au sol|a terre)\b
\bsecours (populaire|catholique)\b
\b(formation|brevet|diplome|psc1|stage) (\w+ ){0,3}(premiers )?secours\b
\bpremiers secours\b
\bplan (communal )?de sauvegarde\b
\b(actes?|declaration|declarer|certificat|bulletin|livret|extrait) (\w+ ){0,3}(deces|mort)\b
\bmort (de rire|de fatigue)\b
\b(journees?|semaine) (du |de la )?(patrimoine|sang)\b
\b(feux?|cheminees?) (\w+ ){0,3}(ramon\w*|brulage|autoris\w*|permis|interdi\w*)\b
\b(detecteurs?|alarmes?|extincteurs?|avertisseurs?) (\w+ ){0,2}(de |d )?(fumee|incendie)\b(?!(\s\w+){0,3}\s(sonne|sonnent|declench\w*|hurle|bip\w*|retenti\w*))
\b(garde|gardes) (corps|fou)\b
\bvite (fait|fais|dit)\b
\bau plus vite\b
\bdes que possible\b
\b(une|la|ma|sa|des|les|cette|leur|notre) tombes?\b
\b(chat|chien|animal|animaux|oiseau|herisson|cheval|biche|renard|pigeon|chevreuil|sanglier)s? (\w+ ){0,2}(blesse|mort|morte|maltraite|agressif|agressive)\w*
\b(roul\w*|vitesse|conduis\w*|passent|vont) (\w+ ){0,2}vite\b
\bmarquage au sol\b
\b(trouve|ramasse|perdu|jete|jetes|laisse)\w* (\w+ ){0,3}(par terre|au sol)\b
\b(objets?|telephone|portefeuille|cles?|sac|papiers?|canettes?|bouteilles?|verre) (\w+ ){0,2}(par terre|au sol)\b
\b(de l |l )?eau (\w+ ){0,3}(sur|dans) (la |le )?(route|rue|chaussee|trottoir|caniveau)\b
\b(route|rue|chaussee|chemin|parking|passage souterrain) (est |sont )?inonde\w*
\b(bailleur|proprietaire|syndic|agence|service|mairie|administration|caf|prefecture|banque|assurance|employeur|ecole|notaire)\w* (\w+ ){0,3}ne (me |nous )?repond (pas|plus|jamais)\b
\btoujours pas de reponse\b
\b(voiture|vehicule|scooter|moto|velo)s? (\w+ ){0,3}enlev\w*
\bbrul\w* (ses|leurs|ces|tes|vos) (dechets|feuilles|herbes|vegetaux|branches)\b
\ben cas (d |de |du |des )(\w+ )?(urgence|incendie|inondation|agression|accident|feu|fuite|chute|danger|malaise|crue)s?\b
\bassurances? (\w+ ){0,3}(vol|cambriolage|incendie|degats des eaux|inondation|catastrophe)s?\b
\b(allocations?|aides?|droits|permis|prestations?|versements?|paiements?|rsa|apl) (\w+ ){0,3}suspendu\w*
"""
_ALARM = [(kind.strip(), re.compile(p.strip())) for kind, _, p in
          (line.partition(":") for line in _ALARM_TEXT.strip().splitlines() if not line.startswith("#"))]
_EXCLUDED = re.compile("|".join(line.strip() for line in _NOT_ALARM_TEXT.strip().splitlines()))


# Words that say an emergency on their own, compared by sound: a recogniser writes "tombere",
# "incendi", "etaittombee" or "kouto" and the patterns above miss them. Short or ambiguous keys
# (feu/fait, sang/sans, fumer, tombee/tombe) are left to the patterns; only long keys are compared
# with one letter of difference (secours/sejour, flammes/femme are one apart).
_BY_SOUND = [(phonetic_key(w), kind) for w, kind in [
    ("incendie", "fire"), ("flammes", "fire"), ("brule", "fire"), ("relever", "fall"),
    ("inonde", "flood"), ("inondation", "flood"), ("evanoui", "unconscious"),
    ("inconscient", "unconscious"), ("respire", "unconscious"), ("malaise", "unconscious"),
    ("couteau", "threat"), ("agression", "violence"), ("suicide", "suicide"), ("secours", "alarm"),
    ("pompiers", "alarm"), ("samu", "alarm"), ("urgence", "alarm"), ("gaz", "smoke_gas")]]


def _sounds_alarming(words: str) -> str | None:
    for word in words.split():
        if len(word) < 3:
            continue
        key = phonetic_key(word)
        for stem, kind in _BY_SOUND:
            if (key == stem or key.endswith(stem) and len(stem) >= 4  # merged: "etaittombee"
                    or key.startswith(stem) and len(stem) >= 4 and len(key) - len(stem) <= 2
                    or len(stem) >= 7 and Levenshtein.distance(key, stem) <= 1):
                return f"{kind}: « {word} » (heard as {stem})"
    return None


def emergency_reason(text: str) -> str | None:
    """Which kind of emergency the words describe (fire, fall, …), or None."""
    said = simplify(text[:2000])  # a phone turn; beyond is noise
    if not said:
        return None
    cleared = _EXCLUDED.sub(" ", said)
    for name, pattern in _ALARM:
        if (m := pattern.search(cleared)) is not None:
            return f"{name}: « {m.group(0).strip()} »"
    return _sounds_alarming(cleared)
