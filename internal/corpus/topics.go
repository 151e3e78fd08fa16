package corpus

// topic is one topic's vocabulary and sentence frames. Every topic has the
// lists agent, noun, mass, verb, iverb, adj and venue that topicFrames use;
// its own frames use those and lists of their own. Some words belong to two
// topics (a pilot, a record, a market), as in real text.
type topic struct {
	name   string
	lists  map[string][]string
	frames []string
}

var topics = []*topic{weather, sports, cooking, travel, music}

var weather = &topic{
	name: "weather",
	lists: lists(
		"agent", `forecaster meteorologist farmer pilot sailor fisherman/fishermen gardener hiker
			resident commuter reporter scientist`,
		"noun", `storm cloud breeze wind shower thunderstorm rainbow forecast hurricane tornado/tornadoes
			blizzard drought heatwave flood gust temperature sky/skies season thermometer warning`,
		"mass", `rain snow sleet hail fog mist frost sunshine humidity thunder lightning drizzle
			ice heat dew rainfall snowfall moisture`,
		"verb", `predict expect forecast/forecast measure record track report check`,
		"iverb", "shiver sweat shelter huddle",
		"adj", `cold warm hot cool wet dry windy rainy sunny cloudy foggy stormy icy chilly humid
			freezing mild gray heavy strong gentle clear severe`,
		"venue", "coast valley mountain harbor airport field beach forest lake hill shore meadow island",
		"wnoun", "storm wind hurricane blizzard flood tornado heatwave shower thunderstorm",
		"wverb", `flood soak cover freeze/froze/frozen damage block delay`,
		"wobj", "road street field roof tree garden car bridge crop harbor town village valley river path",
		"wiverb", "pass weaken move clear ease approach",
		"rainv", "rain snow pour drizzle hail sleet",
		"tempv", "drop/dropped fall/fell/fallen rise/rose/risen climb sink/sank/sunk",
		"period", "day night morning afternoon week weekend",
		"sky", "sky air wind weather morning afternoon evening",
		"season", "spring summer autumn winter",
		"wear", "wear/wore/worn pack need bring/brought",
		"clothes", "coat scarf/scarves glove boot sweater raincoat hat jacket",
		"amount", "a_lot_of some heavy light no plenty_of too_much a_little",
	),
	frames: []string{
		"it {V:rainv} [all {W:period}|heavily|lightly|for {NUM} hours|again] {TIME}.",
		"the temperature {V:tempv} to {NUM:temp} degrees {TIME}.",
		"[a|the] {A} {n:wnoun} {V:wverb} the {p:wobj} {PP}.",
		"the {n:wnoun} {V:wiverb} {TIME}.",
		"there {BE} {W:amount} {m:mass} {PP} {TIME}.",
		"*{T:future}expect {M:mass} and {A} winds {TIME}.",
		"{T:future}the forecast says {m:mass} will [arrive|return|spread] {PP} {TIME}.",
		"the {W:sky} {BE} {A} and the air {BE} {A}.",
		"{S:agent} {V:verb} the {n:noun} from the {n:venue}.",
		"{T:past}wind speeds [reached|passed] {NUM:speed} kilometers per hour [along the coast|over the {n:venue}|in {PLACE}].",
		"{S} {V:wear} {N:clothes} in case of {m:mass}.",
		"{T:present}it is {A} outside, so {S} {V:wear} {N:clothes}.",
		"{T:past}because of the {n:wnoun}, {S} [stayed inside|stayed at home|canceled the trip|waited indoors].",
		"{T:past}by {NUM:clock} the fog had [lifted|cleared] and the sun was [out|shining].",
		"{T:past}the {A} {W:season} brought {M:mass} and {A} {p:wnoun}.",
		"{T:future}there is a {NUM:pct} percent chance of {m:mass} {TIME}.",
		"{T:past}the thermometer [read|showed] {NUM:temp} degrees [at noon|that morning|at dawn].",
		"{S:agent} {V:verb} {M:mass} over the {n:venue}.",
		"{T:present}in {W:season} the {n:venue} [is|gets] {A} and {A}.",
		"{T:past}a {n:noun} warning was issued for the {n:venue} {TIME}.",
		"{S} {V:iverb} in the {A} wind {PP}.",
	},
}

var sports = &topic{
	name: "sports",
	lists: lists(
		"agent", `player coach team referee captain fan goalkeeper striker runner athlete champion
			rookie umpire swimmer cyclist`,
		"noun", `match game race point tournament league championship final cup trophy medal title season`,
		"mass", "training practice skill energy teamwork speed strength stamina defense momentum",
		"verb", `win/won/won/winning lose/lost play lead/led beat/beat/beaten enter watch follow`,
		"ballv", "kick throw/threw/thrown catch/caught hit/hit/hit/hitting pass save block",
		"shot", "penalty/penalties shot goal chance free_kick",
		"iverb", "train practice run/ran/run/running jump swim/swam/swum/swimming celebrate cheer",
		"adj", `fast strong quick tough close final early brilliant exciting tense talented young fit skilled defensive competitive undefeated`,
		"venue", "stadium field court pitch track gym arena pool ring sideline bench",
		"mascot", "Tigers Eagles Lions Wolves Bears Falcons Rangers Rovers United Sharks Hawks Giants Comets Pirates Stars",
		"sport", "football soccer basketball tennis baseball hockey cricket rugby volleyball golf",
		"watch", "watch follow see/saw/seen enjoy",
		"fan", "fan supporter crowd",
		"race", "race marathon sprint relay tournament final",
		"break", "break/broke/broken set/set/set/setting equal",
		"body", "knee ankle shoulder wrist back hamstring",
	),
	frames: []string{
		"{T:past}the {PLACE} {W:mascot} [beat|defeated] the {PLACE} {W:mascot} {NUM:score} {TIME}.",
		"{S:agent} {V:=score} {NUM} goals in the [first|second] half.",
		"the {n:agent} {V:=kick} the ball [into the net|over the bar|past the goalkeeper|to the captain].",
		"{S:agent} {V:ballv} the ball [quickly|with both hands|to a teammate|across the {n:venue}].",
		"{S:agent} [missed|saved|scored|took] {N:shot} in the last minute.",
		"{S} {V:watch} the {n:noun} [on television|from the stands|with {POSS} {n:person}|at the {n:venue}].",
		"{T:present}{S} {W:freq} {V:=play} {W:sport} {PP}.",
		"{T:past}the referee [gave|showed] the {n:agent} a [yellow|red] card.",
		"{T:future}the final will take place {PP} {TIME}.",
		"{T:past}after {NUM:min} minutes, the score was {NUM:score}.",
		"{S:agent} {V:=train} [hard|every day|twice a week|for hours] {PP}.",
		"{T:past}{S:fan} {d:=cheer} when the {n:agent} scored [the winning goal|a late goal|again].",
		`"{Q}," said the coach after the {n:noun}.`,
		"{S:agent} {V:break} the [world|club|national|school] record in the {NUM:dist} meters.",
		"{T:past}{NAME} finished [first|second|third|fourth|last] in the {n:race}.",
		"{S:agent} {V:=need} [a win|more points|a goal|{NUM} points] to reach the final.",
		"{T:past}the {A} {n:agent} hurt {POSS} {W:body} during the {n:noun}.",
		"{T:past}{S} [bought|won|signed] {N:noun} [after|before] the match.",
		"{T:present}the season [starts|ends] in {W:month}, and every {n:agent} wants the trophy.",
		"{S} {V:=play} {W:sport} with {POSS} {n:person} {TIME}.",
		"{T:past}the {PLACE} {W:mascot} won the {n:race} for the [first|second|third] time in {NUM:year}.",
		"{S:agent} {V:verb} the {n:noun} [with {M:mass}|with great {m:mass}|easily].",
		"{T:past}{NUM:big} fans [filled|packed] the {n:venue} for the {n:race}.",
	},
}

var cooking = &topic{
	name: "cooking",
	lists: lists(
		"agent", "cook chef baker waiter customer diner host",
		"noun", `recipe dish/dishes meal soup salad sandwich cake pie omelet stew curry pizza tomato/tomatoes potato/potatoes onion carrot egg apple pepper mushroom`,
		"dish", "soup salad sandwich cake pie omelet stew curry pancake pizza bread pasta risotto casserole",
		"produce", `tomato/tomatoes potato/potatoes onion carrot egg lemon apple orange pepper mushroom bean
			strawberry`,
		"utensil", "pan pot bowl knife/knives spoon fork whisk tray kettle cutting_board",
		"mass", `flour sugar salt butter milk cheese rice pasta bread garlic honey oil cream chocolate
			dough yogurt sauce meat chicken fish`,
		"verb", `cook bake boil fry chop/chopped stir/stirred mix slice taste season serve pour heat
			cut/cut/cut/cutting prepare melt whisk add`,
		"iverb", "cook bake eat/ate/eaten dine feast",
		"adj", `fresh hot sweet sour salty spicy bitter delicious tasty crispy creamy juicy tender
			ripe raw golden soft thick thin homemade rich smooth savory burnt`,
		"venue", "kitchen restaurant bakery market diner stove counter",
		"unit", "cup tablespoon teaspoon pinch handful slice spoonful",
		"done", "golden soft tender brown crispy thick smooth bubbling",
		"make", "make/made cook prepare bake eat/ate/eaten",
		"meal", "breakfast lunch dinner supper dessert",
		"mixv", "stir mix fold whisk",
		"buy", "buy/bought order get/got/gotten/getting choose/chose/chosen",
		"drink", "coffee tea juice water cocoa lemonade",
		"heat", "heat preheat warm",
		"washv", "wash clean dry",
	),
	frames: []string{
		"*{v:verb} the {p:produce} and add them to the {m:mass}.",
		"*add {NUM} {p:unit} of {m:mass} and stir [well|gently|for a minute].",
		"*add a {n:unit} of {m:mass} to the {n:dish}.",
		"*{v:heat} the oven to {NUM:oven} degrees.",
		"*bake [the {n:dish}|it] for {NUM:min} minutes, until it is {W:done}.",
		"{S:agent} {V:verb} {N:produce} for the {n:dish}.",
		"{T:present}{S} {W:freq} {V:make} {N:dish} for {W:meal}.",
		"{T:present}the {n:dish} [tastes|smells|looks] {A} [with a little {m:mass}|].",
		"{T:past}{S} tasted the {n:dish} and said it needed more {m:mass}.",
		`"{Q}," said the chef.`,
		"{S:agent} {V:=serve} {N:dish} with {M:mass}.",
		"{T:present}this recipe [uses|needs|calls for] {NUM} {p:produce}, {m:mass}, and a little {m:mass}.",
		"*let the {n:dish} [cool|rest|simmer] for {NUM:min} minutes before you {v:verb} it.",
		"{S} {V:buy} {N:produce} and {M:mass} at the market.",
		"{T:past}the {A} smell of {m:mass} [filled|reached] the kitchen.",
		"{T:present}the secret of a good {n:dish} is {A} {m:mass}.",
		"*[slowly|gently|carefully] {v:mixv} in the {m:mass}, then taste the {n:dish}.",
		"{S} {V:buy} {N:dish} and a cup of {W:drink}.",
		"{S:agent} {V:washv} the {p:utensil} after {W:meal}.",
		"{S} {V:make} {N:dish} with {m:mass} and {p:produce} {TIME}.",
		"{T:past}the {n:dish} was [too salty|too sweet|perfect|a little dry|still warm], so {S} {d:verb} {M:mass}.",
	},
}

var travel = &topic{
	name: "travel",
	lists: lists(
		"agent", "traveler tourist passenger guide backpacker explorer pilot flight_attendant",
		"noun", `flight train ferry/ferries tour cruise trip journey/journeys hotel ticket room seat boat visit`,
		"mass", "luggage baggage traffic scenery sightseeing jet_lag cash",
		"verb", `book reserve cancel/canceled plan/planned take/took/taken`,
		"item", "passport suitcase backpack guidebook souvenir postcard map camera boarding_pass charger",
		"packv", "pack unpack carry lose/lost forget/forgot/forgotten/forgetting find/found bring/brought",
		"iverb", `travel/traveled fly/flew/flown depart land wander sail hike drive/drove/driven`,
		"adj", `foreign crowded remote historic scenic comfortable delayed direct overnight cozy coastal
			tropical peaceful international charming`,
		"venue", "airport station hotel harbor port border terminal gate platform old_town city_center",
		"city", `Paris Rome Lisbon Madrid Berlin Vienna Prague Dublin Athens Cairo Tokyo Kyoto Lima
			Sydney Toronto Boston Seoul Istanbul`,
		"country", `Spain Italy France Japan Peru Kenya Norway Greece Canada Mexico Portugal Iceland
			Morocco Chile Vietnam India Egypt Brazil`,
		"transport", "train plane bus ferry taxi car bike boat",
		"take", "take/took/taken catch/caught ride/rode/ridden miss",
		"spend", "spend/spent stay",
		"sight", "museum castle cathedral harbor beach palace market bridge tower temple",
		"bag", "suitcase backpack bag",
		"explore", "explore visit see/saw/seen photograph",
		"about", "complain worry talk ask laugh",
	),
	frames: []string{
		"{S} {V:verb} {N:noun} to {W:city} {TIME}.",
		"{T:past}the flight to {W:city} was delayed by {NUM} hours.",
		"{S:agent} {V:take} the {W:transport} from {W:city} to {W:city}.",
		"{S} {V:spend} {NUM} [days|nights|weeks] in {W:country}.",
		"{T:present}the hotel is [close to|far from|next to] the {n:sight} and costs {NUM:price} a night.",
		"{S} {V:=pack} {POSS} {n:bag} [the night before|in a hurry|carefully].",
		"{S} {V:packv} {N:item} [before the flight|on the way to the {n:venue}|in {W:city}|].",
		"{T:past}{S} showed {POSS} passport at the border.",
		"the {n:agent} {V:about} [the {A} {n:noun}|the {m:mass}|the long {n:noun}].",
		`"{Q}," said the {n:agent}.`,
		"{T:past}{S} sent a postcard from {W:city} to {POSS} {n:person}.",
		"{T:present}from the {n:venue}, you can see the {A} {n:sight}.",
		"{T:past}the [journey|trip|drive|ride] to {W:city} took {NUM} hours [by train|by bus|by car|by ferry].",
		"{S} {V:explore} the [old streets|markets|beaches|museums|villages] of {W:city} {TIME}.",
		"{S} {V:=rent} a {W:transport} and {V:=drive/drove/driven} along the coast.",
		"{T:future}{S} will [fly|travel|go] to {W:country} in {W:month}.",
		"{T:past}the {n:venue} was full of {p:agent} [with heavy bags|waiting for their flights|and their families].",
		"{S:agent} {V:iverb} [across|around|through] {W:country} {TIME}.",
		"{T:past}the tour guide showed {W:objpro} the {A} {n:sight}.",
		"{S} {V:want} to visit {W:city} [one day|again|in {W:month}].",
		"{T:present}a return ticket to {W:city} costs {NUM:price}.",
		"{S:agent} {V:verb} the {n:noun} [online|at the {n:venue}|weeks before the trip].",
	},
}

var music = &topic{
	name: "music",
	lists: lists(
		"agent", `musician singer guitarist drummer pianist violinist band conductor composer
			orchestra choir fan`,
		"noun", `song album concert melody rhythm chord tune record symphony/symphonies solo/solos chorus piece performance`,
		"mass", "music jazz rock folk blues applause harmony silence noise",
		"verb", `play sing/sang/sung write/wrote/written record perform compose tune hum/hummed rehearse
			release conduct strum/strummed`,
		"iverb", "sing/sang/sung dance perform practice rehearse clap/clapped hum/hummed",
		"adj", `catchy classical live acoustic electric slow beautiful famous sad haunting gentle
			popular upbeat soft loud`,
		"venue", "stage studio theater club concert_hall opera_house festival garage",
		"listen", "listen dance",
		"learn", "learn try/tried start begin/began/begun/beginning decide",
		"instrument", "guitar piano drums violin cello flute trumpet saxophone harp",
		"theme", "love home summer the_sea a_lost_friend the_city rain the_road freedom",
		"key", "C D E F G B",
	),
	frames: []string{
		"{S:agent} {V:=play} {N:noun} {PP}.",
		"{S} {V:listen} to {M:mass} [every night|on the radio|while working|in the car].",
		"{T:past}the band released their {A} album in {NUM:year}.",
		"the {n:agent} {V:=sing/sang/sung} [a|the] {A} song about {W:theme}.",
		"{T:past}tickets for the concert [sold out|cost {NUM:price}] {TIME}.",
		"the audience {V:iverb} [loudly|for a long time|after every song].",
		"{T:past}{S} {d:learn} to play the {W:instrument} [as a child|last year|at school].",
		"{S} {V:=rehearse} the {n:noun} for {NUM} hours.",
		`"{Q}," said the {n:agent}.`,
		"{T:present}the song has a {A} melody and {A} lyrics.",
		"{S:agent} {V:=tune} {POSS} {W:instrument} before the show.",
		"{T:past}the {A} {n:venue} was [full|packed|quiet] when the {n:agent} began to play.",
		"{S:agent} {V:verb} {N:noun} in {W:key} [major|minor].",
		"{S} {V:iverb} in the choir [every Sunday|at school|with {POSS} {n:person}].",
		"{T:past}the drummer kept the rhythm while the {n:agent} played a {A} solo.",
		"{T:present}{S} {W:freq} {V:=hum/hummed} {N:noun} [in the shower|on the way to work].",
		"{T:past}the festival lasted {NUM} days, and {NUM:big} people came.",
		"{T:past}{S} turned [up|down] the music and [danced|sang along|closed {POSS} eyes].",
		"{T:past}the {n:agent} [won|lost] an award for the {A} {n:noun}.",
		"{S} {V:=play} the {W:instrument} [every evening|after school|for {POSS} {n:person}].",
		"{S:agent} {V:=record} a new {n:noun} at the studio {TIME}.",
	},
}
