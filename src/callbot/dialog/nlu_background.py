"""Everyday talk that is no town-hall business: the background the NLU weighs requests against.

Callers also ask a town hall's phone about shops, weather, trains, their bank or their internet
box. Such a request often shares a word or two with an intent ("dimanche", "voiture", "payer"), and
a similarity to the intents alone cannot tell it from a short real request. Comparing it with this
background as well can: an utterance closer to everyday talk than to everything the flows know is
not forced into the nearest intent. None of these sentences is about a town-hall matter (nor an
emergency, nor what a `hors_mairie` answer covers: banks, insurers, landlords and health insurance
are), and none comes from an evaluation set. The topic layer learns them as its "none" class.
"""

from __future__ import annotations

# One sentence per line.
_BACKGROUND_TEXT = """
je voudrais commander une pizza
vous livrez à domicile
le supermarché est ouvert ce soir
c'est combien le kilo de tomates
vous avez des chaussures en taille quarante
je cherche une boulangerie
le magasin de bricolage ferme à quelle heure
je voudrais réserver une table pour quatre ce soir
un bon restaurant italien
vous faites des soldes
je veux retourner un colis
mon colis n'est pas arrivé
le livreur n'est pas passé
je voudrais acheter une télé
un coiffeur ouvert le lundi
la pharmacie de garde
un bon garage pour réparer ma voiture
le prix de l'essence
une station de lavage
je cherche un électricien pour refaire mon installation
un serrurier pas cher
un vétérinaire de garde
faire un virement
mon forfait téléphone
ma box ne capte plus
le wifi ne marche pas
mon téléphone portable est cassé
changer d'opérateur
le réseau ne passe pas chez moi
mon abonnement internet
ma facture de téléphone est trop chère
mon ordinateur ne démarre plus
réinitialiser mon mot de passe
mon compte en ligne est piraté
mon imprimante ne marche pas
un billet de train pour paris
le train est en retard
les horaires du bus pour l'aéroport
réserver un vol
louer une voiture pour le week-end
un hôtel pas cher au bord de la mer
les horaires des marées
le programme télé de ce soir
quel film passe au cinéma
le résultat du match de rugby
qui a gagné la course
une recette de gâteau au chocolat
comment faire cuire des pâtes
tu peux me chanter une chanson
raconte-moi une histoire
quel âge as-tu
est-ce que tu es un robot
tu t'appelles comment
quelle heure est-il à new york
il va pleuvoir demain
quel temps fait-il
il fait froid dehors
je voudrais prendre rendez-vous chez le dentiste
prendre rendez-vous chez le kiné
je me suis trompé de numéro
je cherche à joindre mon cousin
c'est bien le cabinet du docteur martin
je vous appelle pour vous proposer des panneaux solaires
vous voulez changer de fournisseur d'électricité
c'est pour un sondage
vous avez gagné un voyage
je vends ma voiture
ma machine à laver fuit
le chauffe-eau est en panne
je cherche un cadeau pour ma femme
je m'ennuie
mes plantes ont des pucerons
comment on plante des tomates
je voudrais apprendre l'anglais
un cours de yoga en ligne
ma fille a mal aux dents
j'ai mal à la tête
je suis fatigué en ce moment
la lessive tache mon linge
la poste ouvre à quelle heure
les horaires de la banque
à quelle heure commence la messe dimanche
le cabinet médical est ouvert le samedi
le centre commercial ferme à quelle heure
la boulangerie est fermée le lundi
le marché de noël c'est quel week-end
les horaires du garage automobile
mon colis est au bureau de poste
je voudrais un rendez-vous chez le médecin
mon vétérinaire est fermé
je dois faire la vidange de ma voiture
mes pneus sont crevés
la batterie de ma voiture est à plat
ma chaudière fait un bruit bizarre
j'ai une fuite sous l'évier
comment déboucher un lavabo
quelle peinture pour une chambre
tailler mes rosiers
mon chat est malade
les vaccins de mon chien
ma fille a de la fièvre
je cherche une baby-sitter pour ce soir
les devoirs de mon fils en maths
on part en vacances en espagne
un camping avec piscine
le prix d'un billet d'avion
les soldes d'hiver commencent quand
un cadeau d'anniversaire pour mon mari
les informations du jour
qui est le président de la république
combien font deux plus deux
parle-moi de toi
j'aime pas le lundi
je veux juste discuter
c'est une blague
vous êtes une intelligence artificielle
je vous entends mal il y a de la friture
je teste juste le numéro
rappelez-moi plus tard je suis occupé
"""
# How the NLU's fallback reason says an utterance was closer to this background than to the flows.
EVERYDAY_TALK = "closer to everyday talk"
BACKGROUND = [line for line in _BACKGROUND_TEXT.splitlines() if line.strip()]
