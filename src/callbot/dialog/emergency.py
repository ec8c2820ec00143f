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

from callbot.dialog.normalize import simplify

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
"""
_ALARM = [(kind.strip(), re.compile(p.strip())) for kind, _, p in
          (line.partition(":") for line in _ALARM_TEXT.strip().splitlines())]
_EXCLUDED = re.compile("|".join(line.strip() for line in _NOT_ALARM_TEXT.strip().splitlines()))


def emergency_reason(text: str) -> str | None:
    """Which kind of emergency the words describe (fire, fall, …), or None."""
    said = simplify(text[:2000])  # a phone turn; beyond is noise
    if not said:
        return None
    cleared = _EXCLUDED.sub(" ", said)
    for name, pattern in _ALARM:
        if (m := pattern.search(cleared)) is not None:
            return f"{name}: « {m.group(0).strip()} »"
    return None
