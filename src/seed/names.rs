//! Reference tables for the synthetic population: names, streets and postcode
//! areas. Plain data; `generator` turns the weights into samplers.
//!
//! Weights are relative within a table. Changing any table changes the
//! generated content for every seed, so treat edits like a data migration.
//!
//! The common surnames carry weights per 100,000 people: the first table covers
//! about 62% of the population (Smith 1.3%), and the rest is drawn from the long
//! tail (`RARE_SURNAMES`, double-barrelled pairs and the syllable surnames
//! `SURNAME_STARTS` × `SURNAME_MIDDLES` × `SURNAME_ENDS`).

/// Out of this many people, `SURNAMES` weights count how many have each name.
pub(super) const SURNAME_SCALE: u32 = 100_000;

#[rustfmt::skip]
pub(super) const SURNAMES: &[(&str, u32)] = &[
    ("Smith", 1300), ("Jones", 1020), ("Williams", 885), ("Taylor", 800), ("Brown", 740),
    ("Davies", 694), ("Evans", 658), ("Wilson", 628), ("Thomas", 603), ("Johnson", 581),
    ("Roberts", 562), ("Robinson", 545), ("Thompson", 530), ("Wright", 516), ("Walker", 504),
    ("White", 493), ("Edwards", 482), ("Hughes", 473), ("Green", 464), ("Hall", 456),
    ("Lewis", 448), ("Harris", 441), ("Clarke", 434), ("Patel", 427), ("Jackson", 421),
    ("Wood", 416), ("Turner", 410), ("Martin", 405), ("Cooper", 400), ("Hill", 395),
    ("Ward", 391), ("Morris", 386), ("Moore", 382), ("Clark", 378), ("Lee", 375),
    ("King", 371), ("Baker", 367), ("Harrison", 364), ("Morgan", 361), ("Allen", 357),
    ("James", 354), ("Scott", 351), ("Phillips", 349), ("Watson", 346), ("Davis", 343),
    ("Parker", 340), ("Price", 338), ("Bennett", 335), ("Young", 333), ("Griffiths", 331),
    ("Mitchell", 328), ("Kelly", 326), ("Cook", 324), ("Carter", 322), ("Richardson", 320),
    ("Bailey", 318), ("Collins", 316), ("Bell", 314), ("Shaw", 312), ("Murphy", 310),
    ("Miller", 308), ("Cox", 307), ("Richards", 305), ("Khan", 303), ("Marshall", 302),
    ("Anderson", 300), ("Simpson", 298), ("Ellis", 297), ("Adams", 295), ("Singh", 294),
    ("Begum", 292), ("Wilkinson", 291), ("Foster", 290), ("Chapman", 288), ("Powell", 287),
    ("Webb", 286), ("Rogers", 284), ("Gray", 283), ("Mason", 282), ("Ali", 280), ("Hunt", 279),
    ("Hussain", 278), ("Campbell", 277), ("Matthews", 276), ("Owen", 275), ("Palmer", 273),
    ("Holmes", 272), ("Mills", 271), ("Barnes", 270), ("Knight", 269), ("Lloyd", 268),
    ("Butler", 267), ("Russell", 266), ("Barker", 265), ("Fisher", 264), ("Stevens", 263),
    ("Jenkins", 262), ("Murray", 261), ("Dixon", 260), ("Harvey", 259), ("Graham", 258),
    ("Pearson", 258), ("Ahmed", 257), ("Fletcher", 256), ("Walsh", 255), ("Kaur", 254),
    ("Gibson", 253), ("Howard", 252), ("Andrews", 252), ("Stewart", 251), ("Elliott", 250),
    ("Reynolds", 249), ("Saunders", 249), ("Payne", 248), ("Fox", 247), ("Ford", 246),
    ("Pearce", 246), ("Day", 245), ("Brooks", 244), ("West", 243), ("Lawrence", 243),
    ("Cole", 242), ("Atkinson", 241), ("Bradley", 241), ("Spencer", 240), ("Gill", 239),
    ("Dawson", 239), ("Ball", 238), ("Burton", 237), ("O'Brien", 237), ("Watts", 236),
    ("Rose", 235), ("Booth", 235), ("Perry", 234), ("Ryan", 234), ("Grant", 233),
    ("Wells", 232), ("Armstrong", 232), ("Francis", 231), ("Rees", 231), ("Hayes", 230),
    ("Hart", 229), ("Hudson", 229), ("Newman", 228), ("Barrett", 228), ("Webster", 227),
    ("Hunter", 227), ("Gregory", 226), ("Carr", 226), ("Lowe", 225), ("Page", 225),
    ("Marsh", 224), ("Riley", 224), ("Dunn", 223), ("Woods", 222), ("Parsons", 222),
    ("Berry", 222), ("Stone", 221), ("Reid", 221), ("Holland", 220), ("Hawkins", 220),
    ("Harding", 219), ("Porter", 219), ("Robertson", 218), ("Newton", 218), ("Oliver", 217),
    ("Reed", 217), ("Kennedy", 216), ("Williamson", 216), ("Bird", 215), ("Gardner", 215),
    ("Shah", 215), ("Dean", 214), ("Lane", 214), ("Cooke", 213), ("Bates", 213),
    ("Henderson", 212), ("Parry", 212), ("Burgess", 212), ("Bishop", 211), ("Walton", 211),
    ("Burns", 210), ("Nicholson", 210), ("Shepherd", 210), ("Ross", 209), ("Cross", 209),
    ("Long", 208), ("Freeman", 208), ("Warren", 208), ("Nicholls", 207), ("Hamilton", 207),
    ("Byrne", 206), ("Sutton", 206), ("McDonald", 206), ("Yates", 205), ("Hodgson", 205),
    ("Robson", 205), ("Curtis", 204), ("Hopkins", 204), ("O'Connor", 204), ("Harper", 203),
    ("Coleman", 203),
];

#[rustfmt::skip]
pub(super) const SURNAME_STARTS: &[&str] = &[
    "Ash", "Black", "Brad", "Brom", "Burn", "Cal", "Chad", "Craw", "Dal", "Dun", "Elm", "Ever",
    "Fair", "Farn", "Fen", "Gold", "Grim", "Hal", "Har", "Hart", "Hay", "Hol", "Kel", "Ken",
    "Kings", "Lang", "Lid", "Lock", "Lyn", "Mar", "Mel", "Mid", "Mor", "New", "Nor", "Oak",
    "Pen", "Pres", "Rad", "Rams", "Red", "Rid", "Ros", "Sal", "Stan", "Thorn", "Tren", "Wad",
    "Wel", "Whit", "Win", "Wool", "Yar", "Bar", "Bel", "Cas", "Cran", "Dray", "Glad", "Hat",
    "Kirk", "Lin", "Shel", "Sud",
];

#[rustfmt::skip]
pub(super) const SURNAME_ENDS: &[&str] = &[
    "ford", "ley", "ton", "wood", "worth", "by", "field", "ham", "well", "stone", "bury",
    "shaw", "combe", "dale", "hurst", "more", "wick", "thorpe", "croft", "man", "son", "brook",
    "cott", "den", "don", "gate", "land", "low", "stead", "ridge", "bridge", "hill", "holme",
    "burn", "mouth", "ward", "wright", "ney", "acre", "bank", "beck", "cliffe", "cote", "end",
    "fold", "garth", "grove", "haugh", "hay", "hope", "lake", "lea", "leigh", "marsh", "mere",
    "moor", "mount", "rick", "rigg", "side", "thwaite", "ock", "ett", "all",
];

/// Joins a start and an end; `""` is listed more than once to weight it.
#[rustfmt::skip]
pub(super) const SURNAME_MIDDLES: &[&str] = &["", "", "", "er", "ing", "en", "es", "el"];

/// Rare but real surnames, drawn uniformly from the tail: apostrophes,
/// prefixes, spaces, lower-case particles and accents that searching must cope with.
#[rustfmt::skip]
pub(super) const RARE_SURNAMES: &[&str] = &[
    "Zbyszek", "Featherstonehaugh", "Cholmondeley", "Marjoribanks", "O'Neill", "O'Sullivan",
    "O'Reilly", "MacDonald", "McLaughlin", "MacLeod", "MacKenzie", "McIntyre", "Ní Bhriain",
    "Ó Súilleabháin", "Nowak", "Kowalski", "Wiśniewski", "Müller", "Schröder", "Fernández",
    "García", "Gonçalves", "Da Silva", "Nguyen", "Chen", "Wang", "Zhang", "Okafor", "Adeyemi",
    "Mensah", "Osei", "Abubakar", "Chowdhury", "Rahman", "Uddin", "Miah", "Islam", "Hossain",
    "Sharma", "Gupta", "Kumar", "Mistry", "Chauhan", "Sandhu", "Dhillon", "Bains", "Johal",
    "Papadopoulos", "Georgiou", "Demir", "Yilmaz", "Novak", "Horváth", "Popescu", "Ionescu",
    "Petrov", "Kozłowska", "Smyth", "Smythe", "Bowes-Lyon", "Fiennes", "St John", "ap Gwilym",
    "D'Arcy", "Le Fevre", "De Souza", "van der Berg", "ffrench", "Ffoulkes", "Llewellyn",
    "Pugh", "Prosser", "Trevithick", "Tregenza", "Pengelly", "Penhaligon", "Urquhart",
    "Farquharson", "Menzies", "Dalziel", "Auchinleck", "Mac an tSaoir", "Ó Briain", "Nic Aoidh",
    "Jovanović", "Kovač", "Andersson", "Løvland", "Ng", "Oyelaran-Oyeyinka",
];

/// A given name with its relative frequency among people born before 1960,
/// in 1960–1994 and from 1995, and a familiar form ("" when none).
pub(super) struct GivenName {
    pub name: &'static str,
    pub nickname: &'static str,
    pub weights: [u32; 3],
}

const fn g(name: &'static str, nickname: &'static str, a: u32, b: u32, c: u32) -> GivenName {
    GivenName {
        name,
        nickname,
        weights: [a, b, c],
    }
}

/// The birth year at which each `GivenName::weights` column starts.
pub(super) const GIVEN_NAME_ERAS: [i32; 3] = [0, 1960, 1995];

#[rustfmt::skip]
pub(super) const MALE_GIVEN: &[GivenName] = &[
    g("John", "Johnny", 60, 40, 5), g("David", "Dave", 45, 55, 10), g("Michael", "Mike", 25, 40, 8),
    g("Peter", "Pete", 35, 15, 3), g("Robert", "Bob", 35, 20, 4), g("William", "Bill", 40, 10, 12),
    g("James", "Jim", 30, 40, 30), g("Richard", "Rich", 20, 25, 3), g("Paul", "", 10, 40, 3),
    g("Mark", "", 5, 40, 2), g("Andrew", "Andy", 8, 35, 5), g("Stephen", "Steve", 15, 30, 2),
    g("Christopher", "Chris", 8, 40, 6), g("Anthony", "Tony", 15, 15, 3), g("Ian", "", 8, 15, 1),
    g("Alan", "", 20, 8, 1), g("Brian", "", 25, 5, 0), g("Kevin", "Kev", 8, 20, 1),
    g("Gary", "", 2, 20, 0), g("Colin", "", 18, 5, 0), g("Keith", "", 18, 5, 0),
    g("Graham", "", 12, 10, 0), g("Martin", "", 8, 15, 1), g("Philip", "Phil", 10, 12, 1),
    g("Trevor", "", 12, 2, 0), g("Derek", "", 15, 1, 0), g("Kenneth", "Ken", 25, 3, 0),
    g("Roger", "", 12, 2, 0), g("Geoffrey", "Geoff", 12, 2, 0), g("Barry", "", 10, 4, 0),
    g("Terence", "Terry", 12, 2, 0), g("Raymond", "Ray", 15, 3, 0), g("Malcolm", "", 10, 2, 0),
    g("Nigel", "", 6, 6, 0), g("Neil", "", 4, 14, 0), g("Simon", "", 3, 16, 1),
    g("Stuart", "", 4, 12, 1), g("Dennis", "", 12, 1, 0), g("Leslie", "Les", 12, 1, 0),
    g("Ronald", "Ron", 20, 1, 0), g("Frank", "", 14, 1, 1), g("Arthur", "Art", 18, 1, 15),
    g("Albert", "Bert", 14, 1, 2), g("Harold", "Harry", 15, 1, 0), g("Norman", "", 12, 1, 0),
    g("Douglas", "Doug", 10, 2, 0), g("Gordon", "", 10, 2, 0), g("Donald", "Don", 10, 1, 0),
    g("Eric", "", 14, 1, 0), g("Stanley", "Stan", 12, 1, 2), g("Frederick", "Fred", 12, 1, 3),
    g("Ernest", "Ernie", 10, 0, 0), g("Thomas", "Tom", 25, 20, 25), g("George", "", 30, 5, 30),
    g("Edward", "Ed", 18, 6, 10), g("Joseph", "Joe", 18, 8, 15), g("Joe", "", 0, 3, 6),
    g("Daniel", "Dan", 2, 25, 20), g("Matthew", "Matt", 1, 25, 15), g("Jonathan", "Jon", 2, 12, 3),
    g("Lee", "", 0, 12, 1), g("Carl", "", 1, 10, 0), g("Darren", "", 0, 12, 0),
    g("Wayne", "", 0, 8, 0), g("Jason", "", 0, 10, 1), g("Craig", "", 0, 10, 1),
    g("Scott", "", 0, 8, 2), g("Benjamin", "Ben", 2, 6, 15), g("Samuel", "Sam", 3, 4, 15),
    g("Luke", "", 0, 6, 12), g("Adam", "", 1, 10, 10), g("Ryan", "", 0, 8, 10),
    g("Jamie", "", 0, 6, 8), g("Liam", "", 0, 5, 8), g("Callum", "", 0, 2, 8),
    g("Connor", "", 0, 2, 8), g("Jake", "", 0, 1, 8), g("Lewis", "", 0, 2, 8),
    g("Nathan", "Nate", 0, 4, 8), g("Joshua", "Josh", 0, 3, 15), g("Jack", "", 2, 2, 20),
    g("Harry", "", 4, 2, 18), g("Oliver", "Ollie", 3, 2, 22), g("Charlie", "", 1, 0, 14),
    g("Alfie", "", 0, 0, 10), g("Oscar", "", 1, 0, 10), g("Noah", "", 0, 0, 14),
    g("Leo", "", 0, 0, 12), g("Muhammad", "", 0, 2, 14), g("Mohammed", "", 1, 3, 6),
    g("Jacob", "Jake", 0, 1, 10), g("Freddie", "", 0, 0, 8), g("Theo", "", 0, 0, 8),
    g("Henry", "Hal", 6, 1, 10), g("Archie", "", 0, 0, 8), g("Lucas", "", 0, 0, 8),
    g("Isaac", "", 0, 0, 7), g("Alexander", "Alex", 2, 4, 10), g("Ethan", "", 0, 0, 8),
    g("Max", "", 0, 0, 6), g("Dylan", "", 0, 1, 6), g("Mason", "", 0, 0, 5),
    g("Logan", "", 0, 0, 5), g("Finley", "Finn", 0, 0, 5), g("Sebastian", "Seb", 0, 0, 5),
    g("Reuben", "", 0, 0, 4), g("Elijah", "", 0, 0, 4), g("Jude", "", 0, 0, 4),
    g("Ibrahim", "", 0, 1, 4), g("Yusuf", "", 0, 0, 3), g("Omar", "", 0, 1, 3),
    g("Ali", "", 0, 1, 3), g("Hassan", "", 0, 1, 2), g("Arjun", "", 0, 0, 3),
    g("Rohan", "", 0, 1, 2), g("Kai", "", 0, 0, 3), g("Riley", "", 0, 0, 4),
    g("Toby", "", 0, 1, 5), g("Tyler", "", 0, 0, 4), g("Kieran", "", 0, 2, 3),
    g("Patrick", "Pat", 8, 4, 2), g("Sean", "", 1, 6, 2), g("Gareth", "", 1, 6, 0),
    g("Rhys", "", 0, 3, 4), g("Dafydd", "Dai", 1, 1, 1), g("Hamish", "", 1, 1, 1),
    g("Angus", "", 2, 1, 1), g("José", "", 0, 1, 1),
];

#[rustfmt::skip]
pub(super) const FEMALE_GIVEN: &[GivenName] = &[
    g("Margaret", "Maggie", 45, 3, 0), g("Mary", "", 40, 5, 1), g("Patricia", "Pat", 30, 5, 0),
    g("Elizabeth", "Liz", 30, 15, 5), g("Susan", "Sue", 25, 20, 0), g("Jean", "", 30, 1, 0),
    g("Sandra", "", 15, 12, 0), g("Linda", "", 15, 10, 0), g("Christine", "Chris", 20, 10, 0),
    g("Janet", "", 18, 6, 0), g("Carol", "", 18, 6, 0), g("Barbara", "Babs", 25, 2, 0),
    g("Pauline", "", 12, 4, 0), g("Jacqueline", "Jackie", 6, 10, 0), g("Karen", "", 3, 25, 0),
    g("Julie", "", 3, 22, 0), g("Deborah", "Debbie", 3, 15, 0), g("Tracey", "", 0, 15, 0),
    g("Sharon", "", 2, 15, 0), g("Alison", "Ali", 2, 12, 0), g("Helen", "", 8, 18, 1),
    g("Sarah", "", 3, 30, 6), g("Joan", "", 25, 0, 0), g("Dorothy", "Dot", 22, 0, 0),
    g("Doris", "", 14, 0, 0), g("Elsie", "", 10, 0, 6), g("Irene", "", 14, 1, 0),
    g("Sheila", "", 14, 2, 0), g("Valerie", "Val", 12, 2, 0), g("Brenda", "", 12, 1, 0),
    g("Gillian", "Gill", 6, 8, 0), g("Wendy", "", 6, 6, 0), g("Maureen", "Mo", 16, 1, 0),
    g("Ann", "", 15, 4, 0), g("Anne", "", 15, 6, 0), g("Angela", "Angie", 8, 10, 0),
    g("Diane", "Di", 5, 10, 0), g("Jane", "", 12, 12, 1), g("Jayne", "", 2, 6, 0),
    g("Denise", "", 4, 8, 0), g("Catherine", "Cath", 10, 12, 2), g("Joyce", "", 16, 0, 0),
    g("Kathleen", "Kath", 18, 1, 0), g("Hilda", "", 10, 0, 0), g("Pamela", "Pam", 12, 3, 0),
    g("Vera", "", 10, 0, 0), g("Amanda", "Mandy", 1, 18, 0), g("Nicola", "Nicky", 1, 20, 1),
    g("Claire", "", 1, 20, 1), g("Michelle", "", 0, 20, 0), g("Lisa", "", 0, 18, 0),
    g("Joanne", "Jo", 1, 18, 0), g("Rachel", "", 1, 16, 3), g("Emma", "", 1, 22, 8),
    g("Kelly", "", 0, 10, 1), g("Louise", "Lou", 1, 14, 2), g("Rebecca", "Becky", 1, 14, 6),
    g("Victoria", "Vicky", 2, 12, 4), g("Laura", "", 1, 14, 5), g("Lauren", "", 0, 6, 6),
    g("Gemma", "", 0, 8, 1), g("Kerry", "", 0, 6, 0), g("Jennifer", "Jenny", 3, 8, 3),
    g("Emily", "Em", 3, 3, 16), g("Jessica", "Jess", 0, 5, 12), g("Sophie", "", 0, 3, 12),
    g("Chloe", "", 0, 2, 12), g("Charlotte", "Lottie", 2, 5, 14), g("Hannah", "", 1, 4, 12),
    g("Lucy", "", 1, 5, 10), g("Amy", "", 0, 8, 8), g("Megan", "Meg", 0, 1, 10),
    g("Holly", "", 0, 1, 8), g("Katie", "", 0, 3, 6), g("Bethany", "Beth", 0, 1, 6),
    g("Olivia", "Liv", 0, 1, 20), g("Amelia", "Millie", 0, 0, 18), g("Isla", "", 0, 0, 14),
    g("Ava", "", 0, 0, 12), g("Lily", "", 2, 0, 14), g("Freya", "", 0, 0, 10),
    g("Ivy", "", 2, 0, 8), g("Florence", "Flo", 6, 0, 8), g("Mia", "", 0, 0, 10),
    g("Isabella", "Bella", 0, 0, 8), g("Sophia", "", 0, 0, 8), g("Grace", "", 3, 1, 10),
    g("Willow", "", 0, 0, 5), g("Evie", "", 0, 0, 8), g("Poppy", "", 0, 0, 8),
    g("Ella", "", 0, 0, 8), g("Ruby", "", 1, 0, 9), g("Daisy", "", 1, 0, 7),
    g("Phoebe", "", 0, 0, 6), g("Millie", "", 0, 0, 6), g("Alice", "", 5, 1, 8),
    g("Evelyn", "Evie", 6, 0, 6), g("Matilda", "Tilly", 0, 0, 5), g("Rosie", "", 0, 0, 5),
    g("Maya", "", 0, 0, 5), g("Aisha", "", 0, 1, 4), g("Fatima", "", 0, 1, 4),
    g("Zara", "", 0, 1, 4), g("Maryam", "", 0, 0, 4), g("Priya", "", 0, 1, 3),
    g("Zoë", "", 0, 2, 4), g("Harper", "", 0, 0, 3), g("Layla", "", 0, 0, 4),
    g("Eleanor", "Ellie", 3, 1, 6), g("Georgia", "", 0, 1, 5), g("Abigail", "Abi", 0, 1, 5),
    g("Erin", "", 0, 1, 4), g("Niamh", "", 0, 1, 4), g("Caitlin", "", 0, 1, 4),
    g("Siobhán", "", 0, 1, 1), g("Aoife", "", 0, 0, 2), g("Rhiannon", "", 0, 2, 2),
    g("Kirsty", "", 0, 5, 0), g("Fiona", "", 1, 6, 0), g("Heather", "", 2, 5, 0),
];

/// Rare honorific or generational name suffixes.
pub(super) const NAME_SUFFIXES: &[&str] = &["MBE", "OBE", "PhD", "Jr", "JP", "KC"];

#[rustfmt::skip]
pub(super) const STREETS: &[(&str, u32)] = &[
    ("Station", 30), ("Church", 30), ("Park", 25), ("Victoria", 20), ("Green", 18),
    ("Manor", 18), ("Kings", 15), ("Queens", 15), ("Mill", 15), ("School", 15), ("Oak", 12),
    ("Elm", 10), ("Ash", 10), ("Beech", 10), ("Willow", 10), ("Cedar", 8), ("Chestnut", 8),
    ("Hawthorn", 8), ("Holly", 8), ("Orchard", 10), ("Meadow", 10), ("Springfield", 10),
    ("Grange", 10), ("Windsor", 10), ("York", 10), ("Albert", 10), ("Alexandra", 10),
    ("George", 8), ("North", 10), ("South", 8), ("West", 8), ("New", 12), ("London", 10),
    ("Mount", 6), ("Highfield", 8), ("Westfield", 8), ("Woodland", 8), ("Riverside", 6),
    ("Brook", 6), ("Chapel", 10), ("Market", 8), ("Bridge", 8), ("Castle", 8), ("Hill", 8),
    ("Forest", 6), ("Lime", 6), ("Poplar", 5), ("Maple", 6), ("Rose", 6), ("Primrose", 5),
    ("Heather", 5), ("Lansdowne", 4), ("Clarence", 5), ("Cambridge", 6), ("Oxford", 6),
    ("Stanley", 6), ("Grosvenor", 5), ("Belmont", 5), ("Fairfield", 6), ("Nelson", 5),
    ("Wellington", 6), ("Trafalgar", 4), ("Ashfield", 5), ("Beaconsfield", 4), ("Carlton", 5),
    ("Farm", 6), ("Hall", 6), ("Priory", 5), ("Abbey", 5), ("St John's", 4), ("St Mary's", 4),
    ("Sandringham", 4), ("Balmoral", 4), ("Derwent", 3), ("Severn", 3), ("Valley", 5),
    ("Spring", 5), ("Osborne", 4), ("Warwick", 5), ("Coronation", 5),
];

#[rustfmt::skip]
pub(super) const STREET_SUFFIXES: &[(&str, u32)] = &[
    ("Road", 30), ("Street", 20), ("Lane", 12), ("Avenue", 10), ("Close", 8), ("Drive", 7),
    ("Way", 5), ("Gardens", 4), ("Crescent", 4),
];

/// Dependent localities (district names within a post town).
#[rustfmt::skip]
pub(super) const LOCALITIES: &[&str] = &[
    "Moorside", "Hillside", "Woodside", "Netherton", "Eastfield", "Kingsmead", "Oldfield",
    "Newtown", "Broadmead", "Fairview", "Ashgrove", "Brookside", "Church End", "Millbrook",
    "Westbrook", "Northgate", "Southfields", "Upton", "Norton", "Sutton", "Bradley",
    "Ashton", "Denby", "Horsforth", "Roundhay", "Moseley", "Didsbury", "Heaton", "Fulwood",
    "Clifton",
];

/// `Address::text` for temporary addresses; the first is for students.
pub(super) const TEMP_ADDRESS_TEXTS: &[&str] = &[
    "Student Accommodation",
    "Temporary Address",
    "Holiday Address",
    "Care Home",
];

/// Which districts of a postcode area carry a sub-district letter (SW1A, EC2M).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Lettered {
    Never,
    /// The lowest district always does (SW1A, W1B), the others never.
    First,
    /// The lowest district sometimes does (E1W, N1C, NW1W, SE1P).
    FirstSometimes,
    /// Every district does (EC1A, WC2N).
    Always,
}

/// A real postcode area with the post town used for it (the area's main town)
/// and, outside London, the county, plus its range of district numbers.
pub(super) struct PostArea {
    pub code: &'static str,
    pub town: &'static str,
    pub county: &'static str,
    pub districts: (u8, u8),
    pub lettered: Lettered,
    /// Relative population.
    pub weight: u32,
}

const fn a(
    code: &'static str,
    town: &'static str,
    county: &'static str,
    lo: u8,
    hi: u8,
    weight: u32,
) -> PostArea {
    PostArea {
        code,
        town,
        county,
        districts: (lo, hi),
        lettered: Lettered::Never,
        weight,
    }
}

const fn london(code: &'static str, lo: u8, hi: u8, lettered: Lettered, weight: u32) -> PostArea {
    PostArea {
        code,
        town: "London",
        county: "",
        districts: (lo, hi),
        lettered,
        weight,
    }
}

#[rustfmt::skip]
pub(super) const POST_AREAS: &[PostArea] = &[
    a("AB", "Aberdeen", "Aberdeenshire", 10, 25, 8),
    a("B", "Birmingham", "West Midlands", 1, 48, 40),
    a("BA", "Bath", "Somerset", 1, 2, 4),
    a("BB", "Blackburn", "Lancashire", 1, 2, 5),
    a("BD", "Bradford", "West Yorkshire", 1, 15, 12),
    a("BH", "Bournemouth", "Dorset", 1, 11, 10),
    a("BL", "Bolton", "Lancashire", 1, 7, 8),
    a("BN", "Brighton", "East Sussex", 1, 3, 10),
    a("BR", "Bromley", "Kent", 1, 2, 5),
    a("BS", "Bristol", "", 1, 16, 18),
    a("BT", "Belfast", "County Antrim", 1, 17, 15),
    a("CA", "Carlisle", "Cumbria", 1, 6, 5),
    a("CB", "Cambridge", "Cambridgeshire", 1, 5, 7),
    a("CF", "Cardiff", "South Glamorgan", 10, 24, 12),
    a("CH", "Chester", "Cheshire", 1, 4, 6),
    a("CM", "Chelmsford", "Essex", 1, 3, 7),
    a("CO", "Colchester", "Essex", 1, 7, 6),
    a("CR", "Croydon", "Surrey", 0, 9, 8),
    a("CT", "Canterbury", "Kent", 1, 4, 5),
    a("CV", "Coventry", "West Midlands", 1, 8, 10),
    a("CW", "Crewe", "Cheshire", 1, 2, 4),
    a("DD", "Dundee", "Angus", 1, 5, 5),
    a("DE", "Derby", "Derbyshire", 1, 24, 10),
    a("DH", "Durham", "County Durham", 1, 1, 4),
    a("DL", "Darlington", "County Durham", 1, 3, 4),
    a("DN", "Doncaster", "South Yorkshire", 1, 12, 8),
    a("DT", "Dorchester", "Dorset", 1, 2, 3),
    a("DY", "Dudley", "West Midlands", 1, 3, 6),
    london("E", 1, 18, Lettered::FirstSometimes, 18),
    london("EC", 1, 4, Lettered::Always, 2),
    a("EH", "Edinburgh", "Midlothian", 1, 17, 14),
    a("EX", "Exeter", "Devon", 1, 6, 8),
    a("G", "Glasgow", "Lanarkshire", 1, 53, 25),
    a("GL", "Gloucester", "Gloucestershire", 1, 4, 7),
    a("GU", "Guildford", "Surrey", 1, 5, 7),
    a("HD", "Huddersfield", "West Yorkshire", 1, 5, 6),
    a("HG", "Harrogate", "North Yorkshire", 1, 3, 3),
    a("HU", "Hull", "East Yorkshire", 1, 10, 8),
    a("HX", "Halifax", "West Yorkshire", 1, 7, 4),
    a("IP", "Ipswich", "Suffolk", 1, 10, 8),
    a("IV", "Inverness", "Inverness-shire", 1, 3, 3),
    a("KY", "Kirkcaldy", "Fife", 1, 2, 4),
    a("L", "Liverpool", "Merseyside", 1, 38, 22),
    a("LE", "Leicester", "Leicestershire", 1, 9, 14),
    a("LL", "Llandudno", "Gwynedd", 30, 31, 2),
    a("LN", "Lincoln", "Lincolnshire", 1, 6, 5),
    a("LS", "Leeds", "West Yorkshire", 1, 29, 20),
    a("M", "Manchester", "Lancashire", 1, 40, 28),
    a("ME", "Maidstone", "Kent", 14, 17, 6),
    a("MK", "Milton Keynes", "Buckinghamshire", 1, 15, 7),
    london("N", 1, 22, Lettered::FirstSometimes, 14),
    a("NE", "Newcastle upon Tyne", "Tyne and Wear", 1, 15, 16),
    a("NG", "Nottingham", "Nottinghamshire", 1, 17, 16),
    a("NN", "Northampton", "Northamptonshire", 1, 7, 7),
    a("NP", "Newport", "Gwent", 10, 20, 5),
    a("NR", "Norwich", "Norfolk", 1, 14, 9),
    london("NW", 1, 11, Lettered::FirstSometimes, 12),
    a("OX", "Oxford", "Oxfordshire", 1, 4, 7),
    a("PE", "Peterborough", "Cambridgeshire", 1, 8, 8),
    a("PL", "Plymouth", "Devon", 1, 9, 7),
    a("PO", "Portsmouth", "Hampshire", 1, 6, 8),
    a("PR", "Preston", "Lancashire", 1, 5, 6),
    a("RG", "Reading", "Berkshire", 1, 6, 8),
    a("S", "Sheffield", "South Yorkshire", 1, 36, 18),
    a("SA", "Swansea", "West Glamorgan", 1, 8, 8),
    london("SE", 1, 28, Lettered::FirstSometimes, 20),
    a("SN", "Swindon", "Wiltshire", 1, 5, 6),
    a("SO", "Southampton", "Hampshire", 14, 19, 8),
    a("SR", "Sunderland", "Tyne and Wear", 1, 6, 6),
    a("ST", "Stoke-on-Trent", "Staffordshire", 1, 12, 9),
    london("SW", 1, 20, Lettered::First, 20),
    a("SY", "Shrewsbury", "Shropshire", 1, 5, 4),
    a("TN", "Tunbridge Wells", "Kent", 1, 4, 5),
    a("TR", "Truro", "Cornwall", 1, 4, 4),
    london("W", 1, 14, Lettered::First, 12),
    a("WA", "Warrington", "Cheshire", 1, 5, 6),
    london("WC", 1, 2, Lettered::Always, 1),
    a("WF", "Wakefield", "West Yorkshire", 1, 4, 6),
    a("WR", "Worcester", "Worcestershire", 1, 5, 5),
    a("WV", "Wolverhampton", "West Midlands", 1, 11, 8),
    a("YO", "York", "North Yorkshire", 1, 32, 7),
];
